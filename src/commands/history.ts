import { podPaths } from "../store/paths.js";
import { readStatus } from "../store/status.js";
import { SessionStore } from "../store/session-store.js";
import { requireSession } from "../store/session-select.js";
import { forPeople, withContext, type GlobalOptions } from "./context.js";

export interface HistoryOptions extends GlobalOptions {
  full?: boolean;
  session?: string;
}

/**
 * `pod history`: one JSON object per message of the current session
 * (`{"index","turn","ts","role","content"}`), as the model sees it; `--full`
 * includes messages replaced by compaction. Read without the lock. A pod that
 * never ran prints nothing.
 */
export async function historyCommand(opts: HistoryOptions): Promise<number> {
  return withContext(opts, async (ctx) => {
    const paths = podPaths(ctx.runtimeDir, ctx.manifest.data.pod.name);
    const status = await readStatus(paths.status);
    if (opts.session !== undefined) requireSession(paths.sessions, opts.session);
    const id = opts.session ?? status?.session_id;
    if (!id) return 0; // a pod that never ran has an empty history
    const store = await SessionStore.openReadOnly(paths.sessions, id);
    const all = store.allMessages();
    const from = opts.full ? 0 : (store.compaction()?.keep_from ?? 0);
    const out: string[] = [];
    const summary = store.compaction();
    if (summary && !opts.full) {
      out.push(forPeople(ctx.format) ? `── summary of earlier turns ──\n${summary.summary}\n` : JSON.stringify({ index: null, turn: null, ts: summary.ts, role: "user", content: [{ type: "text", text: summary.summary }], compaction_summary: true }));
    }
    for (let i = from; i < all.length; i++) {
      const s = all[i]!;
      if (forPeople(ctx.format)) out.push(prettyMessage(i, s.turn, s.message));
      else out.push(JSON.stringify({ index: i, turn: s.turn, ts: s.ts, role: s.message.role, content: s.message.content }));
    }
    if (out.length) process.stdout.write(out.join("\n") + "\n");
    return 0;
  });
}

function prettyMessage(index: number, turn: number, m: ReturnType<SessionStore["allMessages"]>[number]["message"]): string {
  const parts = m.content.map((b) => {
    if (b.type === "text") return b.text;
    if (b.type === "tool_use") return `⚙ ${b.name} ${JSON.stringify(b.input).slice(0, 200)}`;
    if (b.type === "thinking") return `(thinking) ${b.thinking.split("\n").slice(0, 3).join("\n  ")}`;
    if (b.type === "redacted_thinking") return "(thinking, redacted)";
    return `${b.is_error ? "✗" : "✓"} ${b.content.split("\n").slice(0, 3).join("\n  ")}`;
  });
  return `#${index} [turn ${turn}] ${m.role}:\n  ${parts.join("\n  ")}`;
}
