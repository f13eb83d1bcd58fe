import { exportPod } from "../../runtime/agent.js";
import { withContext, type GlobalOptions } from "../context.js";

export interface ExportOptions extends GlobalOptions {
  output: string;
  session?: string;
}

/**
 * `pod export [--session ID] -o FILE`: the pod's state as one checksummed .tar.gz
 * (src/runs/bundle.ts). Prints one JSON object (a document, not an event):
 * `{exported, pod, sessions, runs, bytes, sha256}`; a person's line goes to stderr.
 */
export async function exportCommand(opts: ExportOptions): Promise<number> {
  return withContext(opts, async (ctx) => {
    const r = await exportPod(ctx.runtimeDir, ctx.manifest.data.pod.name, opts.output, opts.session);
    process.stdout.write(JSON.stringify({ exported: r.file, pod: r.pod, sessions: r.sessions, runs: r.runs, bytes: r.bytes, sha256: r.sha256 }) + "\n");
    process.stderr.write(`pod: exported pod "${r.pod}" (${r.sessions} session${r.sessions === 1 ? "" : "s"}, ${r.runs} recorded run${r.runs === 1 ? "" : "s"}) to ${r.file}\n`);
    return 0;
  });
}
