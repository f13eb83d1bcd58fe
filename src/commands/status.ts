import { podPaths } from "../store/paths.js";
import { processAlive } from "../store/process-alive.js";
import { freshStatus, readStatus, type Status } from "../store/status.js";
import { forPeople, withContext, type GlobalOptions } from "./context.js";

/**
 * `pod status`: prints status.json as it is on disk (read without the lock: the
 * file is replaced atomically, so a reader never sees half of it). A pod that has
 * never run prints an idle status whose session_id is null.
 */
export async function statusCommand(opts: GlobalOptions): Promise<number> {
  return withContext(opts, async (ctx) => {
    const paths = podPaths(ctx.runtimeDir, ctx.manifest.data.pod.name);
    const status = await readStatus(paths.status);
    const shown = status ?? { ...freshStatus(ctx.manifest.data.pod.name, ""), session_id: null };
    if (forPeople(ctx.format)) process.stdout.write(prettyStatus(shown, status));
    else process.stdout.write(JSON.stringify(shown) + "\n");
    return 0;
  });
}

function prettyStatus(shown: Omit<Status, "session_id"> & { session_id: string | null }, onDisk: Status | undefined): string {
  const stale = onDisk?.status === "running" && onDisk.pid !== undefined && !processAlive(onDisk.pid);
  const u = shown.usage;
  const lines = [
    `pod      ${shown.pod}`,
    `status   ${shown.status}${shown.pid ? ` (pid ${shown.pid})` : ""}${stale ? " — its process is gone; the next pod command repairs it to paused" : ""}`,
    `session  ${shown.session_id ?? "(none yet)"}`,
    `turn     ${shown.turn}`,
    `last     ${shown.last_result ?? "-"}`,
    `tokens   ${u.input_tokens} in · ${u.output_tokens} out · ${u.cache_read_input_tokens} cache read · ${u.cache_creation_input_tokens} cache write`,
  ];
  if (shown.pending) lines.push(`waiting  ${shown.pending.name} ${JSON.stringify(shown.pending.input).slice(0, 100)} — pod resume --approve | --deny "why"`);
  lines.push(`updated  ${shown.updated_at}`);
  return lines.join("\n") + "\n";
}
