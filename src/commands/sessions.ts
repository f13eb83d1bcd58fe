import { podPaths } from "../store/paths.js";
import { readStatus } from "../store/status.js";
import { SessionStore } from "../store/session-store.js";
import { forPeople, withContext, type GlobalOptions } from "./context.js";

/** `pod sessions`: one JSON object per stored session, oldest first; `current` marks the one runs append to. */
export async function sessionsCommand(opts: GlobalOptions): Promise<number> {
  return withContext(opts, async (ctx) => {
    const paths = podPaths(ctx.runtimeDir, ctx.manifest.data.pod.name);
    const current = (await readStatus(paths.status))?.session_id;
    const sessions = await SessionStore.list(paths.sessions);
    const rows = sessions.map((s) => ({ ...s, current: s.id === current }));
    if (forPeople(ctx.format)) {
      const lines = ["  SESSION                      CREATED                   MESSAGES  COMPACTIONS"];
      for (const r of rows) {
        lines.push(`${r.current ? "*" : " "} ${r.id.padEnd(28)} ${r.created_at.padEnd(25)} ${String(r.messages).padStart(8)}  ${String(r.compactions).padStart(11)}`);
      }
      process.stdout.write(lines.join("\n") + "\n");
    } else if (rows.length) {
      process.stdout.write(rows.map((r) => JSON.stringify(r)).join("\n") + "\n");
    }
    return 0;
  });
}
