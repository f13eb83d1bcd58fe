// The run's diffstat for its recording (run.json's `diffstat`, docs/report.md): lines added
// and removed per changed file, counted at run end from the same before/after comparison
// files_changed and --diff come from (src/changes/). Recorded so that `pod report` needs no
// git and no workspace: it works on a recording imported on another machine, after the
// checkout is gone. Bounded: past the limits below nothing is counted and the recording says
// why, so a run that rewrote a whole tree does not pay seconds at its end for a summary.
import type { RunMeta } from "../runs/format.js";
import { patchFor, type RunChanges } from "../changes/index.js";

/** More changed files than this are listed (files_changed) but not counted. */
export const DIFFSTAT_MAX_FILES = 2000;
/** Nor when their contents, before and after, add up to more than this. */
export const DIFFSTAT_MAX_BYTES = 64 * 1024 * 1024;

export async function diffstatOf(changed: RunChanges | undefined): Promise<RunMeta["diffstat"]> {
  if (!changed) return undefined;
  const { changes, snapshot } = changed;
  if (!changes || !snapshot) return { files: [], uncounted: [], skipped: "the scope's files could not be listed at the start of the run" };
  if (changes.files.length > DIFFSTAT_MAX_FILES) return { files: [], uncounted: [], skipped: `${changes.files.length} files changed, more than the ${DIFFSTAT_MAX_FILES} pod counts lines of` };
  const bytes = changes.files.reduce((n, f) => n + (f.before?.stat.size ?? 0) + (f.after?.size ?? 0), 0);
  if (bytes > DIFFSTAT_MAX_BYTES) return { files: [], uncounted: [], skipped: `the changed files hold ${Math.round(bytes / 1024 / 1024)} MiB, more than the ${DIFFSTAT_MAX_BYTES / 1024 / 1024} MiB pod counts lines of` };
  try {
    // --diff built it already: the same comparison, counted once.
    const patch = changed.patch ?? (await patchFor(snapshot, changes));
    return { files: patch.stats.map((s) => ({ path: s.path, change: s.change, added: s.added, removed: s.removed, binary: s.binary })), uncounted: patch.missing };
  } catch (err) {
    return { files: [], uncounted: [], skipped: `the lines could not be counted: ${(err as Error).message}` };
  }
}
