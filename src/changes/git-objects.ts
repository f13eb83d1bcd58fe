import { createHash } from "node:crypto";
import { closeSync, existsSync, fstatSync, openSync, readdirSync, readFileSync, readSync } from "node:fs";
import path from "node:path";
import { inflateSync } from "node:zlib";

/**
 * Blobs from git's object store, read as data (no git process): loose objects
 * (`objects/xx/…`, zlib) and packs (`objects/pack/*.idx` version 2 + `.pack`, with
 * OFS_DELTA and REF_DELTA chains), and the stores `objects/info/alternates` names.
 * Every blob read is checked against its id (sha1 of "blob <size>\0" + bytes), so a
 * corrupt or planted object is never taken for the pre-run content: it is missing.
 * SHA-256 repositories are not read (src/changes/git-repo.ts says so before this runs).
 */
export class ObjectStore {
  private packs: Pack[] | undefined;
  private readonly dirs: string[];

  constructor(objectsDir: string) {
    this.dirs = withAlternates(objectsDir);
  }

  /** The blob's bytes, or undefined when it is not in the store (or does not match its id). */
  readBlob(oid: string): Buffer | undefined {
    if (!/^[0-9a-f]{40}$/.test(oid)) return undefined;
    const obj = this.readLoose(oid) ?? this.readPacked(oid);
    if (!obj || obj.type !== BLOB) return undefined;
    return blobId(obj.data) === oid ? obj.data : undefined;
  }

  /**
   * A commit's or a tree's bytes, checked against its id like a blob (the git state of
   * the system prompt reads HEAD's tree with it: src/prompt/git-state.ts).
   */
  readObject(oid: string, type: "commit" | "tree"): Buffer | undefined {
    if (!/^[0-9a-f]{40}$/.test(oid)) return undefined;
    const obj = this.readLoose(oid) ?? this.readPacked(oid);
    const want = type === "commit" ? COMMIT : TREE;
    if (!obj || obj.type !== want) return undefined;
    return objectId(type, obj.data) === oid ? obj.data : undefined;
  }

  close(): void {
    for (const p of this.packs ?? []) p.close();
    this.packs = undefined;
  }

  private readLoose(oid: string): RawObject | undefined {
    for (const dir of this.dirs) {
      let raw: Buffer;
      try {
        raw = inflateSync(readFileSync(path.join(dir, oid.slice(0, 2), oid.slice(2))));
      } catch {
        continue;
      }
      const nul = raw.indexOf(0);
      const [kind] = raw.toString("latin1", 0, nul).split(" ");
      return { type: LOOSE_TYPES[kind ?? ""] ?? -1, data: raw.subarray(nul + 1) };
    }
    return undefined;
  }

  private readPacked(oid: string): RawObject | undefined {
    this.packs ??= this.dirs.flatMap(openPacks);
    const id = Buffer.from(oid, "hex");
    for (const pack of this.packs) {
      const offset = pack.find(id);
      if (offset !== undefined) return pack.read(offset, (base) => this.readById(base));
    }
    return undefined;
  }

  /** A REF_DELTA's base, in any pack or loose. */
  private readById(id: Buffer): RawObject | undefined {
    const oid = id.toString("hex");
    return this.readLoose(oid) ?? this.readPacked(oid);
  }
}

/** git's blob id of these bytes. */
export function blobId(data: Buffer): string {
  return createHash("sha1").update(`blob ${data.length}\0`).update(data).digest("hex");
}

export const EMPTY_BLOB = blobId(Buffer.alloc(0));

function objectId(type: string, data: Buffer): string {
  return createHash("sha1").update(`${type} ${data.length}\0`).update(data).digest("hex");
}

const COMMIT = 1;
const TREE = 2;
const BLOB = 3;
/** A loose object's type word, as the pack's type numbers. */
const LOOSE_TYPES: Record<string, number> = { commit: COMMIT, tree: TREE, blob: BLOB, tag: 4 };
const OFS_DELTA = 6;
const REF_DELTA = 7;
/** git's default chain limit is 50; this only stops a malformed pack from looping. */
const MAX_DELTA_DEPTH = 1000;

interface RawObject {
  type: number;
  data: Buffer;
}

function withAlternates(objectsDir: string, depth = 0): string[] {
  const dirs = [objectsDir];
  if (depth > 4) return dirs;
  let text = "";
  try {
    text = readFileSync(path.join(objectsDir, "info/alternates"), "utf8");
  } catch {
    return dirs;
  }
  for (const line of text.split("\n")) {
    const alt = line.trim();
    if (alt === "" || alt.startsWith("#")) continue;
    const dir = path.resolve(objectsDir, alt);
    if (existsSync(dir)) dirs.push(...withAlternates(dir, depth + 1));
  }
  return dirs;
}

function openPacks(objectsDir: string): Pack[] {
  const packDir = path.join(objectsDir, "pack");
  let names: string[];
  try {
    names = readdirSync(packDir);
  } catch {
    return [];
  }
  const packs: Pack[] = [];
  for (const name of names) {
    if (!name.endsWith(".idx")) continue;
    const pack = Pack.open(path.join(packDir, name), path.join(packDir, name.replace(/\.idx$/, ".pack")));
    if (pack) packs.push(pack);
  }
  return packs;
}

/**
 * One pack and its version-2 index. The index is searched by reading the entries it
 * needs (fanout table, then a binary search of the sorted ids), not loaded whole: a
 * big repository's index is hundreds of megabytes, and a diff needs a few blobs.
 */
class Pack {
  private constructor(
    private readonly idxFd: number,
    private readonly packFd: number,
    private readonly packSize: number,
    private readonly fanout: Uint32Array,
    private readonly count: number,
  ) {}

  static open(idxFile: string, packFile: string): Pack | undefined {
    let idxFd: number | undefined;
    let packFd: number | undefined;
    try {
      idxFd = openSync(idxFile, "r");
      packFd = openSync(packFile, "r");
      const head = Buffer.alloc(8 + 256 * 4);
      if (readSync(idxFd, head, 0, head.length, 0) !== head.length) throw new Error("short index");
      // Version 2 starts with "\377tOc" and 2; version 1 (git < 1.5.2) has no header and is not read.
      if (head.readUInt32BE(0) !== 0xff744f63 || head.readUInt32BE(4) !== 2) throw new Error("not a version-2 pack index");
      const fanout = new Uint32Array(256);
      for (let i = 0; i < 256; i++) fanout[i] = head.readUInt32BE(8 + i * 4);
      return new Pack(idxFd, packFd, fstatSync(packFd).size, fanout, fanout[255]!);
    } catch {
      if (idxFd !== undefined) closeSync(idxFd);
      if (packFd !== undefined) closeSync(packFd);
      return undefined;
    }
  }

  close(): void {
    closeSync(this.idxFd);
    closeSync(this.packFd);
  }

  /** The object's offset in the pack, if the pack holds it. */
  find(id: Buffer): number | undefined {
    let lo = id[0]! === 0 ? 0 : this.fanout[id[0]! - 1]!;
    let hi = this.fanout[id[0]!]!;
    const entry = Buffer.alloc(20);
    const ids = 8 + 256 * 4;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      readSync(this.idxFd, entry, 0, 20, ids + mid * 20);
      const cmp = entry.compare(id);
      if (cmp === 0) return this.offsetAt(mid);
      if (cmp < 0) lo = mid + 1;
      else hi = mid;
    }
    return undefined;
  }

  private offsetAt(i: number): number {
    const offsets = 8 + 256 * 4 + this.count * 24;
    const b = Buffer.alloc(8);
    readSync(this.idxFd, b, 0, 4, offsets + i * 4);
    const small = b.readUInt32BE(0);
    if ((small & 0x80000000) === 0) return small;
    // Past 2 GiB: the entry indexes the table of 64-bit offsets that follows.
    readSync(this.idxFd, b, 0, 8, offsets + this.count * 4 + (small & 0x7fffffff) * 8);
    return Number(b.readBigUInt64BE(0));
  }

  /** The object at `offset`, deltas applied. */
  read(offset: number, byId: (id: Buffer) => RawObject | undefined, depth = 0): RawObject | undefined {
    if (depth > MAX_DELTA_DEPTH || offset >= this.packSize) return undefined;
    const head = Buffer.alloc(32);
    const got = readSync(this.packFd, head, 0, head.length, offset);
    let i = 0;
    let c = head[i++]!;
    const type = (c >> 4) & 7;
    let size = c & 15;
    let shift = 4;
    while (c & 0x80 && i < got) {
      c = head[i++]!;
      size += (c & 0x7f) * 2 ** shift;
      shift += 7;
    }
    let base: RawObject | undefined;
    if (type === OFS_DELTA) {
      c = head[i++]!;
      let back = c & 127;
      while (c & 128) {
        c = head[i++]!;
        back = (back + 1) * 128 + (c & 127);
      }
      base = this.read(offset - back, byId, depth + 1);
      if (!base) return undefined;
    } else if (type === REF_DELTA) {
      const id = head.subarray(i, i + 20);
      i += 20;
      base = byId(Buffer.from(id));
      if (!base) return undefined;
    }
    const data = this.inflateAt(offset + i, size);
    if (!data) return undefined;
    if (!base) return { type, data };
    const result = applyDelta(base.data, data);
    return result ? { type: base.type, data: result } : undefined;
  }

  /** The zlib stream at `at`, which inflates to `size` bytes. */
  private inflateAt(at: number, size: number): Buffer | undefined {
    // Deflate never grows data by more than its stored-block overhead (5 bytes per 16-64 KB) plus the zlib header and checksum.
    const room = Math.min(size + Math.ceil(size / 16000) * 5 + 64, this.packSize - at);
    const compressed = Buffer.alloc(room);
    const got = readSync(this.packFd, compressed, 0, room, at);
    try {
      const out = inflateSync(compressed.subarray(0, got));
      return out.length === size ? out : undefined;
    } catch {
      return undefined;
    }
  }
}

/** git's delta format: source and target sizes, then copy (from the base) and insert instructions. */
export function applyDelta(base: Buffer, delta: Buffer): Buffer | undefined {
  let i = 0;
  const size = () => {
    let value = 0;
    let shift = 0;
    let c: number;
    do {
      c = delta[i++]!;
      value += (c & 0x7f) * 2 ** shift;
      shift += 7;
    } while (c & 0x80 && i < delta.length);
    return value;
  };
  if (size() !== base.length) return undefined;
  const out = Buffer.alloc(size());
  let o = 0;
  while (i < delta.length) {
    const op = delta[i++]!;
    if (op & 0x80) {
      let off = 0;
      let len = 0;
      for (let b = 0; b < 4; b++) if (op & (1 << b)) off += delta[i++]! * 2 ** (8 * b);
      for (let b = 0; b < 3; b++) if (op & (0x10 << b)) len += delta[i++]! << (8 * b);
      if (len === 0) len = 0x10000;
      if (off + len > base.length || o + len > out.length) return undefined;
      base.copy(out, o, off, off + len);
      o += len;
    } else if (op !== 0) {
      if (i + op > delta.length || o + op > out.length) return undefined;
      delta.copy(out, o, i, i + op);
      i += op;
      o += op;
    } else {
      return undefined; // reserved
    }
  }
  return o === out.length ? out : undefined;
}
