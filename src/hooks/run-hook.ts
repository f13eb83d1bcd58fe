import { commandEnv, spawnConfined, type SandboxKind, type SandboxPolicy } from "../sandbox/index.js";

/** One hook command's outcome. `exitCode` is null when it was killed (timeout, cancel) or could not start. */
export interface HookProcessResult {
  exitCode: number | null;
  stdout: string;
  stderr: string;
  timedOut: boolean;
  /** Why pod ended it, when it did ("timed out after 5s", "cancelled"). */
  stopped?: string | undefined;
  durationMs: number;
}

export interface HookProcess {
  command: string;
  /** The event JSON written to its stdin (Claude Code's contract), already redacted. */
  input: unknown;
  cwd: string;
  timeoutMs: number;
  signal: AbortSignal;
  /** Where it runs (src/sandbox/confine.ts): the sandbox, or unconfined for `sandbox = "off"`. */
  kind: SandboxKind;
  policy: SandboxPolicy;
  /** `[[hooks.*]] env`: the names passed in besides the minimal base. */
  envNames: readonly string[];
}

/** What a hook may print; more is cut (it goes back to the model or into an event). */
const STREAM_CAP = 64 * 1024;

/**
 * Runs a hook command with `sh -c` in `cwd`, the event JSON on stdin, confined like a
 * Bash command (spawnConfined: its own process tree and PID namespace, a private /proc,
 * the minimal environment plus the entry's `env` — never pod's, so never the provider
 * credential). The hook is over when its process exits, not when its pipes close: a
 * child it detached that still holds stdout cannot hold pod (under bwrap that child
 * dies with the namespace). Its whole tree is killed at the timeout and on cancel.
 * Never rejects; a sandbox that refuses the policy throws (the caller's fail-closed path).
 */
export async function runHookProcess(o: HookProcess): Promise<HookProcessResult> {
  const started = Date.now();
  const p = await spawnConfined({
    kind: o.kind,
    policy: o.policy,
    argv: ["sh", "-c", o.command],
    cwd: o.cwd,
    env: commandEnv({ env: o.envNames }),
    stdin: "pipe",
    timeoutMs: o.timeoutMs,
    signal: o.signal,
  });
  let stdout = "";
  let stderr = "";
  p.stdout.setEncoding("utf8").on("data", (d: string) => (stdout = (stdout + d).slice(0, STREAM_CAP)));
  p.stderr.setEncoding("utf8").on("data", (d: string) => (stderr = (stderr + d).slice(0, STREAM_CAP)));
  // A hook that does not read its stdin must not fail the write (spawnConfined swallows EPIPE).
  p.stdin?.end(JSON.stringify(o.input));
  const exit = await p.exited;
  const timedOut = exit.stopped?.startsWith("timed out") === true;
  const extra = exit.error ? `${stderr && !stderr.endsWith("\n") ? "\n" : ""}could not run the hook: ${exit.error}` : "";
  return { exitCode: exit.stopped !== undefined ? null : exit.code, stdout, stderr: stderr + extra, timedOut, stopped: exit.stopped, durationMs: Date.now() - started };
}
