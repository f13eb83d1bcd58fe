import { EXIT } from "../errors.js";
import { aboutSession, compactSession, createProviderClient, podWatch, takePod } from "../runtime/agent.js";
import { requireSession } from "../store/session-select.js";
import { SessionStore } from "../store/session-store.js";
import { buildSystemPrompt } from "../prompt/system-prompt.js";
import { withContext, type GlobalOptions } from "./context.js";

/**
 * `pod compact`: compacts the current session now, whatever its size. Prints one
 * `compaction` event, or nothing (and a note on stderr) when there is too little
 * to compact; a failure is one `error` line, exit 1, with the session untouched.
 */
export async function compactCommand(opts: GlobalOptions & { session?: string }): Promise<number> {
  return withContext(opts, async (ctx) => {
    const client = await createProviderClient(ctx.manifest.data.provider);
    const pod = await takePod(ctx.manifest, ctx.runtimeDir, podWatch(ctx.sink), { onLockLost: () => {} });
    // --session: another stored session, compacted in place; the current one stays current.
    let other: SessionStore | undefined;
    try {
      if (opts.session !== undefined && opts.session !== pod.store.id) {
        requireSession(pod.paths.sessions, opts.session);
        other = await SessionStore.openForAppend(pod.paths.sessions, opts.session);
        aboutSession(ctx.sink, other.id);
      }
      const outcome = await compactSession({
        client,
        model: opts.model ?? ctx.manifest.data.pod.model,
        store: other ?? pod.store,
        keepRecentTurns: ctx.manifest.data.compaction.keep_recent_turns,
        touched: { read: [], written: [] },
        sink: ctx.sink,
        systemPrompt: (await buildSystemPrompt({ manifest: ctx.manifest, runtimeDir: ctx.runtimeDir, redactor: ctx.sink.redactor })).text,
      });
      if (!outcome.compacted) process.stderr.write(`pod compact: nothing to compact: ${outcome.reason}\n`);
      return EXIT.finished;
    } finally {
      await other?.close();
      await pod.release();
    }
  });
}
