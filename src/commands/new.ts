import { podPaths } from "../store/paths.js";
import { takePod } from "../store/pod-owner.js";
import { podWatch } from "../runtime/emit.js";
import { readStatus } from "../store/status.js";
import { withContext, type GlobalOptions } from "./context.js";

/**
 * `pod new`: starts one fresh session and makes it current (older ones stay in the
 * store). Needs the lock: not while a run is going. Does not load the current
 * session, so it also recovers a pod whose current session is damaged.
 */
export async function newCommand(opts: GlobalOptions): Promise<number> {
  return withContext(opts, async (ctx) => {
    const paths = podPaths(ctx.runtimeDir, ctx.manifest.data.pod.name);
    const previous = (await readStatus(paths.status).catch(() => undefined))?.session_id;
    const pod = await takePod(ctx.manifest, ctx.runtimeDir, podWatch(ctx.sink), { onLockLost: () => {}, newSession: true });
    try {
      process.stderr.write(`pod new: session ${pod.store.id} is current${previous ? ` (previous: ${previous})` : ""}\n`);
      return 0;
    } finally {
      await pod.release();
    }
  });
}
