import path from "node:path";
import { importBundle } from "../../runtime/agent.js";
import { withContext, type GlobalOptions } from "../context.js";

export interface ImportOptions extends GlobalOptions {
  force?: boolean;
}

/**
 * `pod import FILE [--force]`: a bundle from `pod export` unpacked into this runtime
 * directory, every checksum verified before anything is written (src/runs/bundle.ts).
 * Prints one JSON object (a document, not an event): `{imported, pod, sessions, runs,
 * status, session_id}`; a refusal is one `error` line, and nothing is written.
 */
export async function importCommand(file: string, opts: ImportOptions): Promise<number> {
  return withContext(opts, async (ctx) => {
    const r = await importBundle(path.resolve(file), ctx.runtimeDir, ctx.manifest.data.pod.name, { force: opts.force === true });
    process.stdout.write(JSON.stringify({ imported: r.dir, pod: r.pod, sessions: r.sessions, runs: r.runs, status: r.status, session_id: r.session_id }) + "\n");
    const next = r.status === "paused" ? "; `pod resume` continues it" : "";
    process.stderr.write(`pod: imported pod "${r.pod}" (${r.sessions} session${r.sessions === 1 ? "" : "s"}, ${r.runs} recorded run${r.runs === 1 ? "" : "s"}) into ${r.dir}${next}\n`);
    return 0;
  });
}
