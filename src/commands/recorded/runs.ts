import { listRuns } from "../../runtime/agent.js";
import { podPaths } from "../../store/paths.js";
import { forPeople, withContext, type GlobalOptions } from "../context.js";

/**
 * `pod runs`: one JSON object per recorded run, oldest first, like `pod sessions` (documents,
 * not events): `{run_id, session_id, mode, result, turns, cost_usd, started_at, ended_at,
 * model}`; `result` is null for a run with no end (still running, or killed). A table with
 * `--format pretty`.
 */
export async function runsCommand(opts: GlobalOptions): Promise<number> {
  return withContext(opts, async (ctx) => {
    const rows = await listRuns(podPaths(ctx.runtimeDir, ctx.manifest.data.pod.name).dir);
    if (forPeople(ctx.format)) {
      const head = ["RUN", "SESSION", "MODE", "RESULT", "TURNS", "COST", "STARTED"];
      const table = rows.map((r) => [r.run_id, r.session_id, r.mode, r.result ?? "(no end)", String(r.turns), r.cost_usd === null ? "—" : `$${r.cost_usd.toFixed(4)}`, r.started_at]);
      const widths = head.map((h, i) => Math.max(h.length, ...table.map((t) => t[i]!.length)));
      const line = (cells: string[]) => cells.map((c, i) => (i === 4 || i === 5 ? c.padStart(widths[i]!) : c.padEnd(widths[i]!))).join("  ").trimEnd();
      process.stdout.write([line(head), ...table.map(line)].join("\n") + "\n");
      if (rows.length === 0) process.stderr.write("pod: no recorded runs yet (`pod run` records every run)\n");
    } else if (rows.length > 0) {
      process.stdout.write(rows.map((r) => JSON.stringify(r)).join("\n") + "\n");
    }
    return 0;
  });
}
