import { PodError } from "../../errors.js";
import { latestRunId, readRun } from "../../runtime/agent.js";
import { reportMarkdown } from "../../report/markdown.js";
import { reportOf } from "../../report/model.js";
import { podPaths } from "../../store/paths.js";
import { withContext, type GlobalOptions } from "../context.js";

/**
 * `pod report [RUN_ID] [--format markdown|json]`: a recorded run (default: the pod's last)
 * as a report for people (markdown, the default) or dashboards (json: one object,
 * src/report/model.ts's `Report`). stdout is the report itself, not events; a refusal (no
 * such run, no runs yet) is one `error` line, as for every command (docs/report.md).
 * `--format` is the global option: pretty and text are read as markdown, jsonl as json.
 */
export async function reportCommand(runId: string | undefined, opts: GlobalOptions): Promise<number> {
  const format = opts.format === "json" || opts.format === "jsonl" ? "json" : "markdown";
  // A refusal is shown as other commands show theirs: for people on a terminal, one JSON `error` line off one.
  return withContext({ ...opts, format: undefined }, async (ctx) => {
    const podDir = podPaths(ctx.runtimeDir, ctx.manifest.data.pod.name).dir;
    const id = runId ?? (await latestRunId(podDir));
    if (id === undefined) {
      throw new PodError("not_found", `pod "${ctx.manifest.data.pod.name}" has no recorded runs in ${ctx.runtimeDir}`, "`pod run` records every run; check --runtime-dir / $POD_RUNTIME_DIR, or `pod import` a bundle from another job");
    }
    const report = reportOf(await readRun(podDir, id));
    process.stdout.write(format === "json" ? JSON.stringify(report) + "\n" : reportMarkdown(report));
    return 0;
  });
}
