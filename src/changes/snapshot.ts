import { closeSync, constants, fstatSync, lstatSync, openSync, readdirSync, readFileSync, readlinkSync, type Dirent, type Stats } from "node:fs";
import path from "node:path";
import { ScopedFs } from "../tools/scoped-fs.js";
import type { ScopeConfig } from "../tools/types.js";
import { isIgnored, layerFromText, withLayer, type IgnoreLayer, type Layers } from "../tools/walk.js";
import { outsideWorkTree, readGitIndex, type GitIndex } from "./git-index.js";
import { blobId } from "./git-objects.js";
import { findRepo, type GitRepo } from "./git-repo.js";

/**
 * The scope as it was when the run began (docs/changes.md has the whole story):
 *
 * - Which files: what `git status` would count. Tracked files (git's index) and the
 *   untracked files no .gitignore or .git/info/exclude ignores; the same rules without
 *   git. Never `.git`, a nested repository, the runtime directory or a denied path (the
 *   model cannot see those, and a denied path is not even named). Regular files and
 *   symlinks only.
 * - What each held: its stat data. In a git checkout a file whose stat data matches its
 *   index entry holds that entry's blob, so nothing is read. Any other file (changed
 *   before the run, or untracked) is read and hashed within a byte budget, and its
 *   bytes are kept for the diff.
 * - Where to look for new files later: every directory listed, with its stat data (an
 *   entry added or removed changes it) and the ignore rules that applied there.
 * - Bounded: a directory whose untracked files (all files, without git) would take the
 *   count past `maxUntracked` is not listed, nor anything below it, and the snapshot
 *   says `truncated`; the files listed are still checked exactly at the end.
 */

export interface SnapshotLimits {
  /** Untracked files listed (all files without git), at start and again as new files at the end. */
  maxUntracked: number;
  /** Bytes read at start, in all, to hash and keep files that git does not hold. */
  readBudget: number;
}

export const DEFAULT_LIMITS: SnapshotLimits = { maxUntracked: 20_000, readBudget: 32 * 1024 * 1024 };

export type FileKind = "file" | "symlink";

/** A file's stat data, as compared between start and end. */
export interface FileStat {
  kind: FileKind;
  /** st_mode: type and permission bits. */
  mode: number;
  size: number;
  mtimeMs: number;
  ctimeMs: number;
  ino: number;
  nlink: number;
}

/** One file at start. */
export interface SnapshotEntry {
  stat: FileStat;
  /** git's blob id of its content, when hashed at start (`entryOid` also knows a clean tracked file's). */
  oid?: string | undefined;
  /** A clean tracked file: its entry in git's index (the blob id is read from there when needed). */
  indexAt?: number | undefined;
  /** Its content, when read at start; absent for a clean tracked file (git's object store has it) or past the read budget. */
  bytes?: Buffer | undefined;
}

/** A directory listed whole at start. */
export interface DirState {
  mtimeMs: number;
  ctimeMs: number;
  ino: number;
  /** The ignore rules that applied to its entries (its own .gitignore included). */
  layers: Layers | undefined;
}

export interface ScopeSnapshot {
  root: string;
  /** Set in a git checkout whose index pod could read. */
  git?: { repo: GitRepo; prefix: string; index: GitIndex } | undefined;
  /** Why the snapshot is not git-based, when it is not ("not a git checkout", "a split index …"). */
  noGitReason?: string | undefined;
  files: Map<string, SnapshotEntry>;
  /** Tracked files missing at start: if they appear, they are added, wherever they are. */
  trackedAbsent: string[];
  /** Directories whose entries were all listed (root-relative; "" is the root). */
  dirs: Map<string, DirState>;
  /** Every directory met at start, listed or not: one not met is new at the end. */
  seenDirs: Set<string>;
  truncated: boolean;
  limits: SnapshotLimits;
  /** The scope's deny and hidden rules: ScopedFs, the same matching as every tool's. */
  fs: ScopedFs;
}

/** What the snapshot needs of the run's scope: part of the config the tools get. */
export type SnapshotScope = Pick<ScopeConfig, "root" | "deny" | "hidden">;

export async function takeSnapshot(scope: SnapshotScope, limits: SnapshotLimits = DEFAULT_LIMITS): Promise<ScopeSnapshot> {
  const fs = new ScopedFs({ root: scope.root, deny: scope.deny, hidden: scope.hidden, readOnly: [], writable: undefined });
  const snap: ScopeSnapshot = { root: scope.root, files: new Map(), trackedAbsent: [], dirs: new Map(), seenDirs: new Set([""]), truncated: false, limits, fs };
  const found = findRepo(scope.root);
  if (found.ok) {
    const read = readGitIndex(found.repo.indexFile);
    const prefix = path.relative(found.repo.workTree, scope.root).split(path.sep).join("/");
    if (read.ok) snap.git = { repo: found.repo, prefix, index: read.index };
    else snap.noGitReason = read.reason;
  } else snap.noGitReason = found.reason;

  const tick = slicer();
  let budget = limits.readBudget;
  const keep = (rel: string, st: Stats, cleanAt: number | undefined) => {
    const stat = statOf(st);
    if (cleanAt !== undefined) return void snap.files.set(rel, { stat, indexAt: cleanAt });
    // A second name of another file (a hardlink) may be one of a denied file's: its bytes are not kept.
    if (st.size <= budget && st.nlink === 1) {
      const bytes = readContent(path.join(scope.root, rel), stat.kind);
      if (bytes) {
        budget -= bytes.length;
        return void snap.files.set(rel, { stat, oid: blobId(bytes), bytes });
      }
    }
    snap.files.set(rel, { stat });
  };

  const tracked = trackedUnderScope(snap);
  const realDir = realDirs(scope.root);
  const name = namer(scope.root);

  // Untracked files, by listing every directory that is not ignored.
  let untracked = 0;
  const stack: Array<{ rel: string; layers: Layers | undefined }> = [{ rel: "", layers: rootLayers(snap) }];
  while (stack.length > 0) {
    const pause = tick();
    if (pause) await pause;
    const dir = stack.pop()!;
    // Stat before listing: an entry added after the stat changes it, so the end sees it.
    const dst = lstatSync(name(dir.rel), { throwIfNoEntry: false });
    const listed = dst?.isDirectory() ? listDir(snap, dir.rel, dir.layers, (rel) => tracked.has(rel), true) : undefined;
    if (!dst || !listed) continue;
    // Entered only from a real directory's listing: a real directory too (no symlink on the way).
    realDir.known(dir.rel, true);
    for (const sub of listed.dirs) snap.seenDirs.add(sub);
    // Too many for what is left: this directory (and what is below it) is not listed; others still are.
    if (untracked + listed.files.length > limits.maxUntracked) {
      snap.truncated = true;
      continue;
    }
    untracked += listed.files.length;
    snap.dirs.set(dir.rel, { mtimeMs: dst.mtimeMs, ctimeMs: dst.ctimeMs, ino: dst.ino, layers: listed.layers });
    for (const f of listed.files) {
      const st = lstatSync(name(f), { throwIfNoEntry: false });
      if (st && kindOf(st)) keep(f, st, undefined);
    }
    for (const sub of listed.dirs) if (!listed.skipped.has(sub)) stack.push({ rel: sub, layers: listed.layers });
  }

  // Tracked files, from the index: checked whatever .gitignore says, as git does.
  const denied = denialCache(fs);
  for (const [rel, at] of tracked) {
    const pause = tick();
    if (pause) await pause;
    if (denied(rel)) continue;
    // A path through a symlinked directory is not that file: lstat would follow the link, maybe out of the scope.
    const st = realDir(parentOf(rel)) ? lstatSync(name(rel), { throwIfNoEntry: false }) : undefined;
    if (!st || !kindOf(st)) {
      snap.trackedAbsent.push(rel);
      continue;
    }
    const index = snap.git!.index;
    keep(rel, st, at !== undefined && index.matches(at, st) ? at : undefined);
  }
  return snap;
}

/** The blob id of a file's content at start, when known. */
export function entryOid(snap: ScopeSnapshot, e: SnapshotEntry): string | undefined {
  return e.oid ?? (e.indexAt !== undefined ? snap.git?.index.oid(e.indexAt) : undefined);
}

/** One directory's entries: untracked files not ignored, and subdirectories (`skipped`: ignored or denied, not to enter). */
export interface Listing {
  files: string[];
  dirs: string[];
  skipped: Set<string>;
  layers: Layers | undefined;
}

/**
 * Lists `rel` (a directory relative to the scope root) under the given ignore rules,
 * plus its own .gitignore when `ownRules`. undefined when it cannot be read or is a
 * nested repository. Files for which `known` is true are left out of `files`.
 */
export function listDir(snap: ScopeSnapshot, rel: string, inherited: Layers | undefined, known: (rel: string) => boolean, ownRules: boolean): Listing | undefined {
  let entries: Dirent[];
  try {
    entries = readdirSync(path.join(snap.root, rel), { withFileTypes: true });
  } catch {
    return undefined;
  }
  // A repository inside the scope is its own: like git, pod does not look inside it.
  if (rel !== "" && entries.some((e) => e.name === ".git")) return undefined;
  // Ignore rules match paths relative to the work tree's top (the scope may be below it).
  const prefix = snap.git?.prefix;
  const wt = prefix ? (r: string) => `${prefix}/${r}` : (r: string) => r;
  let layers = inherited;
  if (ownRules && entries.some((e) => e.name === ".gitignore" && e.isFile())) {
    layers = withLayer(layers, readIgnoreFile(path.join(snap.root, rel, ".gitignore"), wt(rel)));
  }
  const out: Listing = { files: [], dirs: [], skipped: new Set(), layers };
  for (const e of entries) {
    if (e.name === ".git") continue;
    const r = rel ? `${rel}/${e.name}` : e.name;
    if (e.isDirectory()) {
      out.dirs.push(r);
      if (snap.fs.isDenied(r) || isIgnored(layers, wt(r), true)) out.skipped.add(r);
    } else if (e.isFile() || e.isSymbolicLink()) {
      if (known(r) || snap.fs.isDenied(r) || isIgnored(layers, wt(r), false)) continue;
      out.files.push(r);
    }
  }
  return out;
}

/** .git/info/exclude and the .gitignore files between the work tree's top and the scope root. */
function rootLayers(snap: ScopeSnapshot): Layers | undefined {
  if (!snap.git) return undefined;
  let layers = withLayer(undefined, readIgnoreFile(path.join(snap.git.repo.gitDir, "info/exclude"), ""));
  const parts = snap.git.prefix ? snap.git.prefix.split("/") : [];
  for (let i = 0; i < parts.length; i++) {
    const base = parts.slice(0, i).join("/");
    layers = withLayer(layers, readIgnoreFile(path.join(snap.git.repo.workTree, base, ".gitignore"), base));
  }
  return layers;
}

/** A .gitignore's rules, read at once (a thread-pool round trip per file added up in trees that have many). */
function readIgnoreFile(file: string, base: string): IgnoreLayer | undefined {
  const bytes = readContent(file, "file");
  return bytes ? layerFromText(bytes.toString("utf8"), base) : undefined;
}

/** Index entries inside the scope that are files or symlinks in the work tree: root-relative path → entry (undefined: conflicted). */
function trackedUnderScope(snap: ScopeSnapshot): Map<string, number | undefined> {
  const out = new Map<string, number | undefined>();
  if (!snap.git) return out;
  const { prefix, index } = snap.git;
  const cut = prefix ? prefix.length + 1 : 0;
  const inScope = (p: string) => !prefix || (p.startsWith(prefix) && p[prefix.length] === "/");
  for (const [p, at] of index.entries) {
    // A path that would lead out of the work tree is never stat'ed or read (nor can it be a file of the scope).
    if (!inScope(p) || index.skipWorktree(at) || outsideWorkTree(p)) continue;
    const mode = index.mode(at);
    if (mode === 0o100644 || mode === 0o100755 || mode === 0o120000) out.set(p.slice(cut), at);
  }
  for (const p of index.conflicted) if (inScope(p) && !outsideWorkTree(p)) out.set(p.slice(cut), undefined);
  return out;
}

/** Whether a path or a directory above it is denied or hidden; cached per directory. */
export function denialCache(fs: ScopedFs): (rel: string) => boolean {
  const dirs = new Map<string, boolean>();
  const dirDenied = (d: string): boolean => {
    if (d === "") return false;
    let v = dirs.get(d);
    if (v === undefined) {
      const slash = d.lastIndexOf("/");
      v = dirDenied(slash < 0 ? "" : d.slice(0, slash)) || fs.isDenied(d) || d.endsWith("/.git") || d === ".git";
      dirs.set(d, v);
    }
    return v;
  };
  return (rel) => {
    const slash = rel.lastIndexOf("/");
    return fs.isDenied(rel) || dirDenied(slash < 0 ? "" : rel.slice(0, slash));
  };
}

/**
 * Whether a root-relative directory is a real directory all the way down (no component
 * a symlink), cached: paths are opened by name, and a name through a link the model
 * made could lead outside the scope.
 */
export function realDirs(root: string): ((relDir: string) => boolean) & { known(relDir: string, real: boolean): void } {
  const cache = new Map<string, boolean>([["", true]]);
  const name = namer(root);
  const check = (d: string): boolean => {
    let v = cache.get(d);
    if (v === undefined) {
      v = check(parentOf(d)) && (lstatSync(name(d), { throwIfNoEntry: false })?.isDirectory() ?? false);
      cache.set(d, v);
    }
    return v;
  };
  /** What a caller found out itself (a directory it stat'ed on a real path). */
  check.known = (d: string, real: boolean) => void cache.set(d, real);
  return check;
}

/**
 * How the scope's files are named to the kernel: relative to the working directory when
 * pod runs from the scope's root (the usual CI job), which spares every lookup the root's
 * own path components (one lstat per file is most of a pass); absolute otherwise.
 */
export function namer(root: string): (rel: string) => string {
  if (process.cwd() !== root) return (rel) => root + "/" + rel;
  return (rel) => (rel === "" ? "." : rel);
}

export function parentOf(rel: string): string {
  const slash = rel.lastIndexOf("/");
  return slash < 0 ? "" : rel.slice(0, slash);
}

/**
 * A cooperative pause every few milliseconds (`const p = tick(); if (p) await p;`): the snapshot runs while pod starts up
 * (and the end's comparison while nothing else does), so the event loop still answers
 * child processes, timers and signals.
 */
export function slicer(sliceMs = 4): () => Promise<void> | undefined {
  let until = performance.now() + sliceMs;
  let n = 0;
  // Not an async function: most calls return nothing, and the caller awaits only a real pause.
  return () => {
    if ((++n & 63) !== 0 || performance.now() < until) return undefined;
    return new Promise<void>((resolve) =>
      setImmediate(() => {
        until = performance.now() + sliceMs;
        resolve();
      }),
    );
  };
}

export function kindOf(st: Stats): FileKind | undefined {
  return st.isFile() ? "file" : st.isSymbolicLink() ? "symlink" : undefined;
}

export function statOf(st: Stats): FileStat {
  return { kind: kindOf(st)!, mode: st.mode, size: st.size, mtimeMs: st.mtimeMs, ctimeMs: st.ctimeMs, ino: st.ino, nlink: st.nlink };
}

/**
 * A file's bytes, or a symlink's target (git's content for a link). undefined when it
 * cannot be read, or is not what lstat said any more: opened O_NONBLOCK | O_NOFOLLOW and
 * fstat'ed, so a file swapped for a FIFO or a device is never waited on.
 */
export function readContent(abs: string, kind: FileKind): Buffer | undefined {
  if (kind === "symlink") {
    try {
      return readlinkSync(abs, { encoding: "buffer" });
    } catch {
      return undefined;
    }
  }
  let fd: number | undefined;
  try {
    fd = openSync(abs, constants.O_RDONLY | constants.O_NONBLOCK | constants.O_NOFOLLOW);
    if (!fstatSync(fd).isFile()) return undefined;
    return readFileSync(fd);
  } catch {
    return undefined;
  } finally {
    if (fd !== undefined) closeSync(fd);
  }
}
