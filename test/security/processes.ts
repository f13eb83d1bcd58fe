import { readdirSync, readFileSync } from "node:fs";

/** Live processes on this machine whose command line contains `needle` (zombies aside): "nothing is left" checks read /proc. */
export function processesWith(needle: string): string[] {
  const found: string[] = [];
  for (const pid of readdirSync("/proc").filter((n) => /^\d+$/.test(n))) {
    try {
      const cmd = readFileSync(`/proc/${pid}/cmdline`, "latin1").split("\0").join(" ");
      const state = readFileSync(`/proc/${pid}/stat`, "latin1").split(") ")[1]?.[0];
      if (cmd.includes(needle) && state !== "Z") found.push(`${pid}: ${cmd}`);
    } catch {
      // gone meanwhile
    }
  }
  return found;
}
