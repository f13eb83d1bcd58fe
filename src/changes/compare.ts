import { lstatSync } from "node:fs";
import path from "node:path";
import type { Layers } from "../tools/walk.js";
import { blobId } from "./git-objects.js";
import { entryOid, kindOf, listDir, namer, parentOf, readContent, realDirs, slicer, statOf, type FileStat, type ScopeSnapshot, type SnapshotEntry } from "./snapshot.js";

export type ChangeKind = "added" | "modified" | "deleted";

/** One file the run added, modified or deleted (`run_end.files_changed` carries path and change). */
export interface FileChange {
  /** Relative to the scope root, with forward slashes. */
  path: string;
  change: ChangeKind;
  /** At start (modified, deleted). */
  before?: SnapshotEntry | undefined;
  /** At the end (added, modified). */
  after?: FileStat | undefined;
}

export interface ScopeChanges {
  /** Sorted by path, in byte order as git sorts. */
  files: FileChange[];
  /** The listing stopped at its limit (SnapshotLimits.maxUntracked), at start or now: new files may be missing (docs/changes.md). */
  truncated: boolean;
}

/**
 * The scope now against its snapshot. Each file listed at start is stat'ed: gone is
 * deleted; stat data moved means it is read and compared by content and mode (a touch,
 * or a rewrite with the same bytes, is no change). New files are looked for in the
 * directories listed at start whose own stat data moved (an entry was added, removed
 * or renamed there), and in every directory the run created.
 */
export async function compareScope(snap: ScopeSnapshot): Promise<ScopeChanges>;
/** With `abandoned`: asked at every pause; true there gives up and returns undefined (a comparison ahead of time that a new tool call made stale). */
export async function compareScope(snap: ScopeSnapshot, opts: { abandoned: () => boolean }): Promise<ScopeChanges | undefined>;
export async function compareScope(snap: ScopeSnapshot, opts?: { abandoned: () => boolean }): Promise<ScopeChanges | undefined> {
  const files: FileChange[] = [];
  const root = snap.root;
  const slice = slicer();
  let gaveUp = false;
  // The pause itself, then the question: a tool call that started during it makes this comparison stale.
  const tick = (): Promise<void> | undefined => {
    const pause = slice();
    if (!pause || !opts) return pause;
    return pause.then(() => void (gaveUp = opts.abandoned()));
  };
  const realDir = realDirs(root);
  const name = namer(root);
  // The directories listed at start, parents before children: whether each is still a real
  // directory (for the files below), and whether its entries changed (then it is listed again).
  const moved: string[] = [];
  for (const [rel, dir] of snap.dirs) {
    const pause = tick();
    if (pause) await pause;
    if (gaveUp) return undefined;
    const st = realDir(parentOf(rel)) ? lstatSync(name(rel), { throwIfNoEntry: false }) : undefined;
    realDir.known(rel, st?.isDirectory() ?? false);
    if (st?.isDirectory() && (st.mtimeMs !== dir.mtimeMs || st.ctimeMs !== dir.ctimeMs || st.ino !== dir.ino)) moved.push(rel);
  }
  for (const [rel, before] of snap.files) {
    const pause = tick();
    if (pause) await pause;
    if (gaveUp) return undefined;
    const st = realDir(parentOf(rel)) ? lstatSync(name(rel), { throwIfNoEntry: false }) : undefined;
    if (!st || !kindOf(st)) {
      files.push({ path: rel, change: "deleted", before });
      continue;
    }
    const b = before.stat;
    // Compared field by field on the Stats: no object is made for a file that did not move.
    if (st.mode === b.mode && st.size === b.size && st.mtimeMs === b.mtimeMs && st.ctimeMs === b.ctimeMs && st.ino === b.ino) continue;
    const now = statOf(st);
    const oid = entryOid(snap, before);
    if (oid !== undefined && gitMode(now) === gitMode(before.stat)) {
      const bytes = readContent(path.join(root, rel), now.kind);
      if (bytes && blobId(bytes) === oid) continue;
    }
    files.push({ path: rel, change: "modified", before, after: now });
  }

  let truncated = snap.truncated;
  let added = 0;
  const found = new Set<string>();
  /** false once the limit is reached. */
  const addNew = (rel: string): boolean => {
    if (found.has(rel) || snap.files.has(rel)) return true;
    if (added >= snap.limits.maxUntracked) {
      truncated = true;
      return false;
    }
    const st = realDir(parentOf(rel)) ? lstatSync(name(rel), { throwIfNoEntry: false }) : undefined;
    if (!st || !kindOf(st)) return true;
    found.add(rel);
    added++;
    files.push({ path: rel, change: "added", after: statOf(st) });
    return true;
  };
  const known = (rel: string) => snap.files.has(rel);
  const fresh: Array<{ rel: string; layers: Layers | undefined }> = [];
  const look = (rel: string, layers: Layers | undefined, listedAtStart: boolean): boolean => {
    // A directory listed at start keeps its start rules (a run that edits a .gitignore does not make files appear or vanish); a new one brings its own.
    const listed = listDir(snap, rel, layers, known, !listedAtStart);
    if (!listed) return true;
    for (const f of listed.files) if (!addNew(f)) return false;
    for (const sub of listed.dirs) if (!listed.skipped.has(sub) && !snap.seenDirs.has(sub)) fresh.push({ rel: sub, layers: listed.layers });
    return true;
  };
  let open = true;
  for (const rel of moved) {
    const pause = tick();
    if (pause) await pause;
    if (gaveUp) return undefined;
    if (!(open = look(rel, snap.dirs.get(rel)!.layers, true))) break;
  }
  while (open && fresh.length > 0) {
    const pause = tick();
    if (pause) await pause;
    if (gaveUp) return undefined;
    const dir = fresh.pop()!;
    if (realDir(dir.rel)) open = look(dir.rel, dir.layers, false);
  }
  // Tracked files missing at start that are back: they may be where no listing looks (under an ignored directory).
  if (open) for (const rel of snap.trackedAbsent) if (!addNew(rel)) break;

  files.sort((a, b) => Buffer.compare(Buffer.from(a.path), Buffer.from(b.path)));
  return { files, truncated };
}

/** git's mode for a file: 120000 for a symlink, 100755 when its owner may execute it, else 100644. */
export function gitMode(st: FileStat): number {
  if (st.kind === "symlink") return 0o120000;
  return (st.mode & 0o100) !== 0 ? 0o100755 : 0o100644;
}
