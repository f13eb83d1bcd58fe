import { spawn } from "node:child_process";

/** One hook command's outcome. `exitCode` is null when it was killed (timeout, cancel) or could not start. */
export interface HookProcessResult {
  exitCode: number | null;
  stdout: string;
  stderr: string;
  timedOut: boolean;
  durationMs: number;
}

/** What a hook may print; more is cut (it goes back to the model or into an event). */
const STREAM_CAP = 64 * 1024;

/**
 * Runs a hook command with `sh -c` in `cwd`, the event JSON on stdin. Hooks are the
 * user's own code, so they run outside Bash's sandbox with pod's environment. The
 * command runs in its own process group so a timeout kills everything it started.
 */
export function runHookProcess(command: string, input: unknown, opts: { cwd: string; timeoutMs: number; signal: AbortSignal; env?: NodeJS.ProcessEnv }): Promise<HookProcessResult> {
  const started = Date.now();
  return new Promise((resolve) => {
    let stdout = "";
    let stderr = "";
    let timedOut = false;
    let settled = false;
    const child = spawn("sh", ["-c", command], { cwd: opts.cwd, env: opts.env ?? process.env, stdio: ["pipe", "pipe", "pipe"], detached: true });
    const kill = () => {
      try {
        if (child.pid !== undefined) process.kill(-child.pid, "SIGKILL");
      } catch {
        /* already gone */
      }
    };
    const timer = setTimeout(() => {
      timedOut = true;
      kill();
    }, opts.timeoutMs);
    const onAbort = () => kill();
    opts.signal.addEventListener("abort", onAbort, { once: true });
    const finish = (exitCode: number | null, extraErr = "") => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      opts.signal.removeEventListener("abort", onAbort);
      resolve({ exitCode, stdout, stderr: stderr + extraErr, timedOut, durationMs: Date.now() - started });
    };
    child.stdout.setEncoding("utf8").on("data", (d: string) => (stdout = (stdout + d).slice(0, STREAM_CAP)));
    child.stderr.setEncoding("utf8").on("data", (d: string) => (stderr = (stderr + d).slice(0, STREAM_CAP)));
    child.on("error", (err) => finish(null, `could not run the hook: ${err.message}`));
    child.on("close", (code) => finish(timedOut ? null : code));
    // A hook that does not read its stdin must not fail the write.
    child.stdin.on("error", () => {});
    child.stdin.end(JSON.stringify(input));
  });
}
