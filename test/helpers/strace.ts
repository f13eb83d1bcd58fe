import { spawn, spawnSync } from "node:child_process";
import { readFile } from "node:fs/promises";
import { POD_BIN } from "./pod-process.js";

/**
 * strace's output as data, for the durability tests: which syscall, on which fd's path
 * (strace -y), with which bytes, in which order (a call's entry and return positions).
 */
export type Sys = {
  /** Position of the call's entry and of its return in the trace (equal unless another thread interleaved). */
  start: number;
  end: number;
  pid: string;
  name: string;
  /** The fd's path (strace -y), e.g. /tmp/x/.pod/tester/sessions/….jsonl or socket:[…]. */
  fdPath: string;
  /** The bytes written (write/writev), or the argv text (execve). */
  data: string;
  line: string;
};

/** Decodes strace's C-style string escapes (\", \\, \n, \t, \ooo octal) to the bytes written. */
function unescape(s: string): string {
  const bytes: number[] = [];
  for (let i = 0; i < s.length; i++) {
    const c = s[i]!;
    if (c !== "\\") {
      bytes.push(...Buffer.from(c, "utf8"));
      continue;
    }
    const n = s[++i]!;
    if (/[0-7]/.test(n)) {
      let oct = n;
      while (oct.length < 3 && /[0-7]/.test(s[i + 1] ?? "")) oct += s[++i];
      bytes.push(parseInt(oct, 8));
    } else if (n === "x") {
      bytes.push(parseInt(s.slice(i + 1, i + 3), 16));
      i += 2;
    } else bytes.push(({ n: 10, t: 9, r: 13, v: 11, f: 12 } as Record<string, number>)[n] ?? n.charCodeAt(0));
  }
  return Buffer.from(bytes).toString("utf8");
}

export function parseTrace(text: string): Sys[] {
  const calls: Sys[] = [];
  const open = new Map<string, Sys>();
  text.split("\n").forEach((line, i) => {
    const m = /^(\d+) +(?:<\.\.\. (\w+) resumed>|(\w+)\()/.exec(line);
    if (!m) return;
    const pid = m[1]!;
    if (m[2]) {
      const call = open.get(pid);
      if (call) {
        call.end = i;
        open.delete(pid);
      }
      return;
    }
    const name = m[3]!;
    const fdPath = /^\d+ +\w+\(\d+<([^>]*)>/.exec(line)?.[1] ?? "";
    const data = [...line.matchAll(/"((?:[^"\\]|\\.)*)"/g)].map((q) => unescape(q[1]!)).join(name === "execve" ? " " : "");
    const call: Sys = { start: i, end: i, pid, name, fdPath, data, line };
    calls.push(call);
    if (line.endsWith("<unfinished ...>")) open.set(pid, call);
  });
  return calls;
}

/** Whether strace is on this machine (part of it, as bwrap and rg are: the tests fail without it, never skip). */
export const hasStrace = spawnSync("strace", ["-V"]).status === 0;

/**
 * `pod <args>` run under `strace -f -y` tracing `syscalls` into `traceFile`: its exit code,
 * its stdout and stderr, and the trace as data. `strings` is how many bytes of each buffer
 * strace prints (enough for a whole session line by default).
 */
export async function tracedPod(
  args: string[],
  o: { cwd: string; env: NodeJS.ProcessEnv; syscalls: string[]; traceFile: string; strings?: number },
): Promise<{ code: number | null; stdout: string; stderr: string; calls: Sys[] }> {
  const child = spawn("strace", ["-f", "-y", "-s", String(o.strings ?? 1_000_000), "-e", `trace=${o.syscalls.join(",")}`, "-o", o.traceFile, process.execPath, POD_BIN, ...args], {
    cwd: o.cwd,
    env: o.env,
    stdio: ["ignore", "pipe", "pipe"],
  });
  let stdout = "";
  let stderr = "";
  child.stdout.setEncoding("utf8").on("data", (d: string) => (stdout += d));
  child.stderr.setEncoding("utf8").on("data", (d: string) => (stderr += d));
  const code = await new Promise<number | null>((resolve) => child.on("close", resolve));
  return { code, stdout, stderr, calls: parseTrace(await readFile(o.traceFile, "utf8")) };
}
