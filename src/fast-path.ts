import type { GlobalOptions } from "./commands/context.js";

/**
 * The invocations scripts repeat most (`pod --version`, `pod status` in a polling
 * loop) are recognised here without loading commander, which costs ~10 ms of a
 * ~60 ms start. Anything this does not recognise exactly (help, typos, other
 * commands, unknown or repeated options) returns undefined and goes through
 * commander as usual, so behaviour never differs, only start-up time.
 */
export type FastPath = { kind: "version" } | { kind: "status"; opts: GlobalOptions };

const VALUE_OPTIONS: Record<string, keyof GlobalOptions> = {
  "-C": "dir",
  "--dir": "dir",
  "--manifest": "manifest",
  "--runtime-dir": "runtimeDir",
  "--format": "format",
};

export function fastPath(args: readonly string[]): FastPath | undefined {
  if (args.length === 1 && (args[0] === "--version" || args[0] === "-V")) return { kind: "version" };
  if (!args.includes("status")) return undefined;
  const opts: GlobalOptions = {};
  let sawCommand = false;
  for (let i = 0; i < args.length; i++) {
    const arg = args[i]!;
    if (arg === "status" && !sawCommand) {
      sawCommand = true;
      continue;
    }
    const [flag, inline] = arg.startsWith("--") && arg.includes("=") ? [arg.slice(0, arg.indexOf("=")), arg.slice(arg.indexOf("=") + 1)] : [arg, undefined];
    const key = VALUE_OPTIONS[flag];
    const value = inline ?? args[++i];
    if (!key || value === undefined || value.startsWith("-") || opts[key] !== undefined) return undefined;
    if (key === "format" && value !== "jsonl" && value !== "pretty") return undefined;
    (opts as Record<string, string>)[key] = value;
  }
  return sawCommand ? { kind: "status", opts } : undefined;
}

/** `pod status` without commander; the import path matches cli.ts's, so it loads the same bundle. */
export async function runStatus(opts: GlobalOptions): Promise<number> {
  const { statusCommand } = await import("./commands/status.js");
  return statusCommand(opts);
}
