import { readFileSync, statSync, type Stats } from "node:fs";

/**
 * git's index (`.git/index`), read as data: pod never runs git for this, so nothing
 * in the repository's configuration (fsmonitor, hooks, filters) can run. Format:
 * git's Documentation/gitformat-index.txt, versions 2, 3 and 4 (4 compresses each path
 * against the previous one). A split index (the `link` extension: most entries live in
 * a shared file) is not read: pod then works as it does without git.
 */
/**
 * The parsed index. Entries stay in the file's buffer and are read by offset when asked
 * for: building an object per entry cost more than the rest of a 10,000-file snapshot.
 */
export class GitIndex {
  constructor(
    private readonly buf: Buffer,
    /** Stage-0 entries: path (relative to the work tree, forward slashes) → the entry's offset. */
    readonly entries: Map<string, number>,
    /** Paths with a merge conflict (stages 1-3): their work tree content has no one blob. */
    readonly conflicted: Set<string>,
    private readonly extended: Set<number>,
    /** The index file's own mtime: an entry modified in that same instant or later may look clean and not be ("racy git"). */
    readonly mtimeSec: number,
    readonly mtimeNsec: number,
    /** The cache-tree extension's root: the tree id the index would commit, when git recorded it as valid. */
    readonly rootTree?: string | undefined,
  ) {}

  /** The size git recorded (32 bits, as git truncates it). */
  size(at: number): number {
    return this.buf.readUInt32BE(at + 36);
  }

  /** 0o100644, 0o100755, 0o120000 (symlink), 0o160000 (submodule), 0o040000 (sparse directory). */
  mode(at: number): number {
    return this.buf.readUInt32BE(at + 24);
  }

  /** The blob's id, 40 hex digits. */
  oid(at: number): string {
    return this.buf.toString("hex", at + 40, at + 40 + OID_BYTES);
  }

  /** Not in the work tree on purpose (sparse checkout). */
  skipWorktree(at: number): boolean {
    return this.extended.has(at) && (this.buf.readUInt16BE(at + 62) & 0x4000) !== 0;
  }

  /** `git add -N`: recorded as empty, content not added. */
  intentToAdd(at: number): boolean {
    return this.extended.has(at) && (this.buf.readUInt16BE(at + 62) & 0x2000) !== 0;
  }

  /**
   * git's own test of a clean entry: same type and executable bit, size, mtime, ctime and
   * inode (32-bit fields, as git truncates them). An entry stamped in the same instant
   * as the index file or later may have changed unseen ("racy git") and is not trusted.
   */
  matches(at: number, st: Stats): boolean {
    const b = this.buf;
    if (this.intentToAdd(at)) return false;
    const mtimeSec = b.readUInt32BE(at + 8);
    const mtimeNsec = b.readUInt32BE(at + 12);
    if (mtimeSec > this.mtimeSec || (mtimeSec === this.mtimeSec && mtimeNsec >= this.mtimeNsec)) return false;
    const mode = this.mode(at);
    if (st.isSymbolicLink() ? mode !== 0o120000 : !st.isFile() || mode !== ((st.mode & 0o100) !== 0 ? 0o100755 : 0o100644)) return false;
    // Node computes mtimeMs as sec * 1e3 + nsec / 1e6: the same sum of the index's fields compares exactly.
    return (
      st.mtimeMs === mtimeSec * 1e3 + mtimeNsec / 1e6 &&
      st.ctimeMs === b.readUInt32BE(at) * 1e3 + b.readUInt32BE(at + 4) / 1e6 &&
      st.size % 2 ** 32 === b.readUInt32BE(at + 36) &&
      st.ino % 2 ** 32 === b.readUInt32BE(at + 20)
    );
  }
}

/**
 * An index names paths inside its work tree, relative, with forward slashes. One that is
 * absolute, empty, or has a `.`, `..` or empty component would name something else (a
 * file outside the scope): pod trusts no index that holds one for it.
 */
export function outsideWorkTree(p: string): boolean {
  return OUTSIDE.test(p);
}
const OUTSIDE = /^\/|^$|(^|\/)\.{1,2}(\/|$)|\/\/|\/$/;

export type IndexRead = { ok: true; index: GitIndex } | { ok: false; reason: string };

const OID_BYTES = 20;

export function readGitIndex(file: string): IndexRead {
  let buf: Buffer;
  let mtimeSec = 0;
  let mtimeNsec = 0;
  try {
    const st = statSync(file, { bigint: true });
    mtimeSec = Number(st.mtimeNs / 1_000_000_000n);
    mtimeNsec = Number(st.mtimeNs % 1_000_000_000n);
    buf = readFileSync(file);
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    // A repository with nothing added yet has no index: every file is untracked.
    if (code === "ENOENT") return { ok: true, index: new GitIndex(Buffer.alloc(0), new Map(), new Set(), new Set(), 0, 0) };
    return { ok: false, reason: `cannot read ${file} (${code})` };
  }
  try {
    const { entries, conflicted, extended, rootTree } = parseIndex(buf);
    return { ok: true, index: new GitIndex(buf, entries, conflicted, extended, mtimeSec, mtimeNsec, rootTree) };
  } catch (err) {
    return { ok: false, reason: `${file}: ${(err as Error).message}` };
  }
}

export function parseIndex(buf: Buffer): { entries: Map<string, number>; conflicted: Set<string>; extended: Set<number>; rootTree?: string } {
  if (buf.length < 12 + OID_BYTES || buf.toString("latin1", 0, 4) !== "DIRC") throw new Error("not a git index");
  const version = buf.readUInt32BE(4);
  if (version < 2 || version > 4) throw new Error(`index version ${version} is not supported`);
  const count = buf.readUInt32BE(8);
  const end = buf.length - OID_BYTES;
  const entries = new Map<string, number>();
  const conflicted = new Set<string>();
  const extended = new Set<number>();
  let o = 12;
  let previous: Buffer = Buffer.alloc(0);
  for (let i = 0; i < count; i++) {
    if (o + 62 > end) throw new Error("truncated entry");
    const start = o;
    const flags = buf.readUInt16BE(o + 60);
    const isExtended = version >= 3 && (flags & 0x4000) !== 0;
    const nameStart = o + (isExtended ? 64 : 62);
    let path: string;
    if (version === 4) {
      // Strip N bytes from the previous path's end, then append the NUL-terminated suffix.
      const { value: strip, next } = readVarint(buf, nameStart);
      const nul = buf.indexOf(0, next);
      if (nul < 0 || nul >= end || strip > previous.length) throw new Error("bad path in entry");
      const raw = Buffer.concat([previous.subarray(0, previous.length - strip), buf.subarray(next, nul)]);
      path = raw.toString("utf8");
      previous = raw;
      o = nul + 1;
      // A name that is not UTF-8 cannot be named in run_end or opened by its decoded form: left out (docs/changes.md).
      if (path.length !== raw.length && !Buffer.from(path).equals(raw)) continue;
    } else {
      // The flags hold the name's length below 0xfff (no search for its NUL, no Buffer made per
      // entry: this loop is on a run's path before its first request, through the git line).
      const short = flags & 0xfff;
      const nul = short < 0xfff ? nameStart + short : buf.indexOf(0, nameStart + 0xfff);
      if (nul < 0 || nul >= end || buf[nul] !== 0) throw new Error("bad path in entry");
      path = buf.toString("utf8", nameStart, nul);
      if (path.includes("\0")) throw new Error("bad path in entry");
      // The entry is padded with 1-8 NULs to a multiple of 8 bytes.
      o += (nul - o + 8) & ~7;
      if (path.length !== nul - nameStart && !Buffer.from(path).equals(buf.subarray(nameStart, nul))) continue;
    }
    if (((flags >> 12) & 3) !== 0) {
      conflicted.add(path);
      continue;
    }
    if (isExtended) extended.add(start);
    entries.set(path, start);
  }
  // Extensions: a split index keeps most entries elsewhere; of the others only the cache
  // tree's root is read (the git state's fast path: index == HEAD when it equals HEAD's tree).
  let rootTree: string | undefined;
  while (o + 8 <= end) {
    const sig = buf.toString("latin1", o, o + 4);
    const size = buf.readUInt32BE(o + 4);
    if (sig === "link") throw new Error("a split index (core.splitIndex) is not supported");
    if (sig === "TREE") rootTree = cacheTreeRoot(buf.subarray(o + 8, Math.min(o + 8 + size, end)));
    o += 8 + size;
  }
  for (const p of conflicted) entries.delete(p);
  return { entries, conflicted, extended, ...(rootTree !== undefined ? { rootTree } : {}) };
}

/**
 * The root entry of the TREE extension: "" NUL, "<entry count> <subtrees>\n", then the
 * tree id — only when the entry count is not -1 (git marks an invalidated tree so).
 */
function cacheTreeRoot(ext: Buffer): string | undefined {
  if (ext[0] !== 0) return undefined;
  const nl = ext.indexOf(0x0a, 1);
  if (nl < 0 || nl + 1 + OID_BYTES > ext.length) return undefined;
  const [count] = ext.toString("latin1", 1, nl).split(" ");
  if (count === undefined || !/^\d+$/.test(count)) return undefined;
  return ext.toString("hex", nl + 1, nl + 1 + OID_BYTES);
}

/** git's offset varint (as in pack OFS_DELTA): 7 bits a byte, most significant first, +1 per continuation. */
function readVarint(buf: Buffer, at: number): { value: number; next: number } {
  let c = buf[at++]!;
  let value = c & 127;
  while (c & 128) {
    c = buf[at++]!;
    value = (value + 1) * 128 + (c & 127);
  }
  return { value, next: at };
}
