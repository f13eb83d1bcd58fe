import { closeSync, constants, fstatSync, lstatSync, openSync, readlinkSync, readSync, statSync, type Stats } from "node:fs";
import path from "node:path";
import { outsideWorkTree, readGitIndex, type GitIndex } from "../changes/git-index.js";
import { blobId, ObjectStore } from "../changes/git-objects.js";
import { findRepo, type GitRepo } from "../changes/git-repo.js";
import { namer, parentOf, realDirs, slicer } from "../changes/snapshot.js";

/**
 * The system prompt's git line — the branch, and whether tracked files have
 * uncommitted changes — read as data, without running git (issue 21 item 2). git
 * would execute the repository's configuration (core.fsmonitor, hooks, filters,
 * pagers) and follow a submodule's gitfile into a gitdir the model wrote, with pod's
 * whole environment; reading HEAD, the refs, the index and the object store runs
 * nothing. The readers are src/changes/'s (the same ones `files_changed` uses).
 *
 * What it reads: the workspace's own repository only — the nearest `.git` at or above
 * the workspace root (the scope root's `.git` is protected, the directories above it
 * are outside the scope), following a gitfile there (a linked worktree, a submodule
 * checked out as the workspace) only to a directory holding a git config. Nested repositories and submodules are never entered: their changes
 * do not count (as `git status --ignore-submodules=all`). Untracked files do not count.
 *
 * Compared as `git status --porcelain --untracked-files=no` compares, without filters:
 * HEAD's tree with the index (the cache tree's root when git recorded it, else a walk of
 * the tree), then each tracked file with its index entry (stat data first, the content's
 * blob id when the stat data alone cannot tell). A file whose content differs only
 * through a clean filter (LFS, autocrlf) and whose stat data changed counts as changed.
 */

/** How long the reading may take; past it the state is "unknown" (a huge tree must not hold up a run). */
const DEADLINE_MS = 3000;
/** How much file content may be hashed to settle entries whose stat data changed. */
const READ_BUDGET = 64 * 1024 * 1024;

type Verdict = "clean" | "dirty" | "unknown";

export async function readGitState(workspace: string, opts: { deadlineMs?: number } = {}): Promise<string> {
  const found = findRepo(workspace);
  if (!found.ok) return found.reason === "not a git checkout" ? "not a git repository" : `a git repository pod cannot read (${found.reason})`;
  const repo = found.repo;
  const head = readHead(repo);
  if ("error" in head) return `a git repository pod cannot read (${head.error})`;
  const where = head.branch !== undefined ? `branch ${head.branch}` : "detached HEAD";
  let verdict: Verdict;
  try {
    verdict = await compare(repo, head, Date.now() + (opts.deadlineMs ?? DEADLINE_MS));
  } catch {
    verdict = "unknown";
  }
  const state = verdict === "unknown" ? "working tree state unknown" : verdict === "clean" ? "no uncommitted changes to tracked files" : "uncommitted changes to tracked files";
  return `${where}, ${state}`;
}

interface Head {
  /** The short branch name; undefined for a detached HEAD. */
  branch: string | undefined;
  /** The commit HEAD names; undefined on a branch with no commits yet. */
  commit: string | undefined;
  /** Whether the commit could be resolved (refs in a format pod does not read: unknown). */
  resolved: boolean;
}

/** HEAD, and the commit it names through the loose refs or packed-refs. */
function readHead(repo: GitRepo): Head | { error: string } {
  const raw = readSmall(path.join(repo.gitDir, "HEAD"));
  if (raw === undefined) return { error: "no readable HEAD" };
  const text = raw.trim();
  if (/^[0-9a-f]{40}$/.test(text)) return { branch: undefined, commit: text, resolved: true };
  const ref = /^ref: (refs\/\S+)$/.exec(text)?.[1];
  // A ref name git would accept (no control characters, no "..", no spaces): anything else is not a HEAD.
  if (ref === undefined || ref.length > 255 || ref.includes("..") || /[\x00-\x20\x7f~^:?*[\\]/.test(ref)) return { error: "HEAD is not a branch or a commit" };
  const branch = ref.startsWith("refs/heads/") ? ref.slice("refs/heads/".length) : ref.slice("refs/".length);
  const common = path.dirname(repo.objectsDir);
  // The reftable format keeps refs in binary tables pod does not read.
  if (statSync(path.join(common, "reftable"), { throwIfNoEntry: false })?.isDirectory()) return { branch, commit: undefined, resolved: false };
  const loose = readSmall(path.join(common, ref))?.trim();
  if (loose !== undefined && /^[0-9a-f]{40}$/.test(loose)) return { branch, commit: loose, resolved: true };
  const packed = readSmall(path.join(common, "packed-refs"), 1 << 26);
  if (packed !== undefined) {
    for (const line of packed.split("\n")) {
      if (line.length === 41 + ref.length && line.endsWith(` ${ref}`) && /^[0-9a-f]{40} /.test(line)) return { branch, commit: line.slice(0, 40), resolved: true };
    }
  }
  // Neither: a branch with no commits yet (`git init`), whose HEAD tree is empty.
  return { branch, commit: undefined, resolved: true };
}

async function compare(repo: GitRepo, head: Head, deadline: number): Promise<Verdict> {
  if (!head.resolved) return "unknown";
  const read = readGitIndex(repo.indexFile);
  if (!read.ok) return "unknown";
  const index = read.index;
  // A merge in progress, or `git add -N`: git status lists them.
  if (index.conflicted.size > 0) return "dirty";
  const store = new ObjectStore(repo.objectsDir);
  try {
    let tree: string | undefined;
    if (head.commit !== undefined) {
      const commit = store.readObject(head.commit, "commit");
      if (!commit) return "unknown";
      tree = /^tree ([0-9a-f]{40})\n/.exec(commit.toString("latin1", 0, 46))?.[1];
      if (!tree) return "unknown";
    }
    // Staged changes: the fast path first (git records the tree the index would commit).
    const fast = tree === undefined ? (indexEntries(index).length === 0 ? "clean" : "dirty") : index.rootTree === tree ? "clean" : undefined;
    if (fast === "dirty") return "dirty";
    const work = await worktree(repo, index, deadline);
    if (work !== "clean" || fast === "clean") return work;
    return indexMatchesTree(index, store, tree!, deadline);
  } finally {
    store.close();
  }
}

/** The index's entries pod compares: not submodules (ignored, as --ignore-submodules=all). */
function indexEntries(index: GitIndex): Array<[string, number]> {
  return [...index.entries].filter(([, at]) => index.mode(at) !== 0o160000);
}

/** Each tracked file against its index entry, as git's stat check and content check do. */
async function worktree(repo: GitRepo, index: GitIndex, deadline: number): Promise<Verdict> {
  const tick = slicer();
  let budget = READ_BUDGET;
  // Names and real-directory checks as the files_changed snapshot makes them (relative to the
  // working directory at the work tree's top, the usual CI job): a symlink or a file on the
  // way means the entry is gone, as git sees it.
  const name = namer(repo.workTree);
  const realDir = realDirs(repo.workTree);
  // Entries come sorted, so most share the previous one's directory.
  let lastParent: string | undefined;
  for (const [rel, at] of index.entries) {
    const p = tick();
    if (p) {
      await p;
      if (Date.now() > deadline) return "unknown";
    }
    const mode = index.mode(at);
    if (mode === 0o160000 || mode === 0o040000 || index.skipWorktree(at)) continue;
    if (index.intentToAdd(at)) return "dirty";
    // An index names paths inside its work tree; one that does not is not an index pod trusts.
    if (outsideWorkTree(rel)) return "unknown";
    const parent = parentOf(rel);
    if (parent !== lastParent) {
      if (!realDir(parent)) return "dirty";
      lastParent = parent;
    }
    const st = lstatSync(name(rel), { throwIfNoEntry: false });
    if (!st) return "dirty";
    if (index.matches(at, st)) continue;
    const isLink = mode === 0o120000;
    if (isLink !== st.isSymbolicLink() || (!isLink && !st.isFile())) return "dirty";
    if (!isLink && mode !== ((st.mode & 0o100) !== 0 ? 0o100755 : 0o100644)) return "dirty";
    if (st.size % 2 ** 32 !== index.size(at) && index.size(at) !== 0) return "dirty";
    budget -= st.size;
    if (budget < 0) return "unknown";
    const abs = path.join(repo.workTree, rel);
    const content = isLink ? readlinkBuffer(abs) : readRegular(abs, st);
    if (content === undefined) return "unknown";
    if (blobId(content) !== index.oid(at)) return "dirty";
  }
  return "clean";
}

/** HEAD's tree against the index, entry by entry (when the cache tree does not settle it). */
async function indexMatchesTree(index: GitIndex, store: ObjectStore, root: string, deadline: number): Promise<Verdict> {
  const tick = slicer();
  let matched = 0;
  const walk = async (oid: string, prefix: string): Promise<Verdict> => {
    const data = store.readObject(oid, "tree");
    if (!data) return "unknown";
    let o = 0;
    while (o < data.length) {
      const p = tick();
      if (p) {
        await p;
        if (Date.now() > deadline) return "unknown";
      }
      const sp = data.indexOf(0x20, o);
      const nul = data.indexOf(0, sp);
      if (sp < 0 || nul < 0 || nul + 21 > data.length) return "unknown";
      const mode = parseInt(data.toString("latin1", o, sp), 8);
      const name = data.toString("utf8", sp + 1, nul);
      const id = data.toString("hex", nul + 1, nul + 21);
      o = nul + 21;
      const rel = prefix + name;
      if (mode === 0o040000) {
        // A sparse index keeps a whole directory as one entry ("dir/", its tree's id).
        const sparse = index.entries.get(rel + "/");
        if (sparse !== undefined) {
          if (index.oid(sparse) !== id) return "dirty";
          matched++;
          continue;
        }
        const v = await walk(id, rel + "/");
        if (v !== "clean") return v;
        continue;
      }
      if (mode === 0o160000) continue;
      const at = index.entries.get(rel);
      if (at === undefined || index.oid(at) !== id || normalMode(index.mode(at)) !== normalMode(mode)) return "dirty";
      matched++;
    }
    return "clean";
  };
  const v = await walk(root, "");
  if (v !== "clean") return v;
  // Every index entry was in HEAD's tree: none was added.
  return matched === indexEntries(index).length ? "clean" : "dirty";
}

/** git stores 100664 from old trees as 100644. */
const normalMode = (m: number) => (m === 0o100664 ? 0o100644 : m);

/** A small file (HEAD, a ref) through a descriptor: a FIFO or device is never waited on, a link never followed. */
function readSmall(file: string, max = 4096): string | undefined {
  let fd: number | undefined;
  try {
    fd = openSync(file, constants.O_RDONLY | constants.O_NONBLOCK | constants.O_NOFOLLOW);
    const st = fstatSync(fd);
    if (!st.isFile() || st.size > max) return undefined;
    const buf = Buffer.alloc(st.size);
    const got = readSync(fd, buf, 0, st.size, 0);
    return buf.toString("utf8", 0, got);
  } catch {
    return undefined;
  } finally {
    if (fd !== undefined) closeSync(fd);
  }
}

/** A tracked file's bytes, if it is still the regular file lstat saw. */
function readRegular(file: string, seen: Stats): Buffer | undefined {
  let fd: number | undefined;
  try {
    fd = openSync(file, constants.O_RDONLY | constants.O_NONBLOCK | constants.O_NOFOLLOW);
    const st = fstatSync(fd);
    if (!st.isFile() || st.ino !== seen.ino) return undefined;
    const buf = Buffer.alloc(st.size);
    let got = 0;
    while (got < st.size) {
      const n = readSync(fd, buf, got, st.size - got, got);
      if (n === 0) break;
      got += n;
    }
    return buf.subarray(0, got);
  } catch {
    return undefined;
  } finally {
    if (fd !== undefined) closeSync(fd);
  }
}

function readlinkBuffer(file: string): Buffer | undefined {
  try {
    return readlinkSync(file, { encoding: "buffer" });
  } catch {
    return undefined;
  }
}
