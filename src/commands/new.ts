import { takePod } from "../store/pod-owner.js";
import { withContext, type GlobalOptions } from "./context.js";

/** `pod new`: starts a fresh session (older ones stay in the store). Needs the lock: not while a run is going. */
export async function newCommand(opts: GlobalOptions): Promise<number> {
  return withContext(opts, async (ctx) => {
    const pod = await takePod(ctx.manifest, ctx.runtimeDir, ctx.sink, { onLockLost: () => {} });
    try {
      const previous = pod.store.id;
      await pod.startNewSession();
      process.stderr.write(`pod new: session ${pod.store.id} is current (previous: ${previous})\n`);
      return 0;
    } finally {
      await pod.release();
    }
  });
}
