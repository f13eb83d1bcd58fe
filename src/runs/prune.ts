import { readdir, readFile, rename, rm } from "node:fs/promises";
import path from "node:path";
import { isRunId, RUN_FILE } from "./format.js";

/**
 * `[pod] keep_runs`: removes the oldest recordings in `dir` until `keep` remain (by their
 * start time; a recording without a readable run.json counts as oldest). A recording is
 * first renamed out of sight (`.removing-<id>`), then deleted, so a crash halfway leaves
 * either a whole recording or a hidden remnant that the next prune removes.
 */
export async function pruneRuns(dir: string, keep: number): Promise<void> {
  let names: string[];
  try {
    names = await readdir(dir);
  } catch {
    return;
  }
  for (const n of names) if (n.startsWith(".removing-")) await rm(path.join(dir, n), { recursive: true, force: true }).catch(() => {});
  const ids = names.filter(isRunId);
  if (ids.length <= keep) return;
  const dated = await Promise.all(ids.map(async (id) => ({ id, started: await startedAt(path.join(dir, id)) })));
  dated.sort((a, b) => (a.started === b.started ? (a.id < b.id ? -1 : 1) : a.started < b.started ? -1 : 1));
  for (const { id } of dated.slice(0, dated.length - keep)) {
    const hidden = path.join(dir, `.removing-${id}`);
    try {
      await rename(path.join(dir, id), hidden);
      await rm(hidden, { recursive: true, force: true });
    } catch {
      // Gone already, or not ours to remove: the next prune tries again.
    }
  }
}

async function startedAt(dir: string): Promise<string> {
  try {
    const meta = JSON.parse(await readFile(path.join(dir, RUN_FILE), "utf8")) as { started_at?: unknown };
    return typeof meta.started_at === "string" ? meta.started_at : "";
  } catch {
    return "";
  }
}
