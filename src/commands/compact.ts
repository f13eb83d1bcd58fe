import { EXIT } from "../errors.js";
import { compactSession, createProviderClient, takePod } from "../runtime/agent.js";
import { withContext, type GlobalOptions } from "./context.js";

/**
 * `pod compact`: compacts the current session now, whatever its size. Prints one
 * `compaction` event, or nothing (and a note on stderr) when there is too little
 * to compact; a failure is one `error` line, exit 1, with the session untouched.
 */
export async function compactCommand(opts: GlobalOptions): Promise<number> {
  return withContext(opts, async (ctx) => {
    const client = await createProviderClient(ctx.manifest.data.provider);
    const pod = await takePod(ctx.manifest, ctx.runtimeDir, ctx.sink, { onLockLost: () => {} });
    try {
      const outcome = await compactSession({
        client,
        model: opts.model ?? ctx.manifest.data.pod.model,
        store: pod.store,
        keepRecentTurns: ctx.manifest.data.compaction.keep_recent_turns,
        touched: { read: [], written: [] },
        sink: ctx.sink,
        systemPrompt: ctx.manifest.systemPrompt,
      });
      if (!outcome.compacted) process.stderr.write(`pod compact: nothing to compact: ${outcome.reason}\n`);
      return EXIT.finished;
    } finally {
      await pod.release();
    }
  });
}
