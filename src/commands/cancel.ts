import { readFile } from "node:fs/promises";
import { setTimeout as sleep } from "node:timers/promises";
import { PodError } from "../errors.js";
import { isLocked } from "../store/lock.js";
import { podPaths } from "../store/paths.js";
import { processAlive } from "../store/process-alive.js";
import { readStatus } from "../store/status.js";
import { withContext, type GlobalOptions } from "./context.js";
import { aboutSession } from "../runtime/emit.js";

export interface CancelOptions extends GlobalOptions {
  wait?: boolean;
  /** Milliseconds to wait for the run to stop (cli.ts parses `--timeout 30s` / `--timeout 30`). */
  timeout?: number;
}

/**
 * `pod cancel`: signals the process running this pod (SIGTERM), which stops
 * cleanly and leaves the pod paused. Waits until it has saved (unless --no-wait).
 * Prints nothing on success; one `error` line (not_running, exit 3) otherwise.
 */
export async function cancelCommand(opts: CancelOptions): Promise<number> {
  return withContext(opts, async (ctx) => {
    const paths = podPaths(ctx.runtimeDir, ctx.manifest.data.pod.name);
    const status = await readStatus(paths.status);
    const pid = status?.status === "running" ? status.pid : undefined;
    const notRunning = () => new PodError("not_running", `pod "${ctx.manifest.data.pod.name}" is not running`, "nothing to cancel; `pod status` shows its state");
    if (!status || pid === undefined || !processAlive(pid)) throw notRunning();
    if (!(await isLocked(paths.dir, paths.lock)) || !(await looksLikePod(pid))) throw notRunning();
    aboutSession(ctx.sink, status.session_id);
    process.kill(pid, "SIGTERM");
    if (opts.wait === false) return 0;
    const waitMs = opts.timeout ?? 30_000;
    const deadline = Date.now() + waitMs;
    while (Date.now() < deadline) {
      await sleep(100);
      const now = await readStatus(paths.status).catch(() => undefined);
      if (!processAlive(pid) || now?.status !== "running" || now.pid !== pid) return 0;
    }
    process.stderr.write(`pod cancel: pid ${pid} has not stopped after ${waitMs / 1000}s; it may be inside a long tool call\n`);
    return 1;
  });
}

/** Guards against a recycled pid: on Linux the process's command line must mention pod. */
async function looksLikePod(pid: number): Promise<boolean> {
  try {
    const cmdline = await readFile(`/proc/${pid}/cmdline`, "utf8");
    return /pod/.test(cmdline);
  } catch {
    return true; // no /proc (macOS): the lock and the pid are all we can check
  }
}
