// The tar format of pod's bundles: POSIX ustar (1988), regular files and directories only,
// written and read here rather than by a general tar library, for two reasons. A bundle only
// ever holds what `pod export` writes (a dozen kinds of short relative names), so the reader
// can be strict where a general one is lenient: every header's checksum is checked, the
// end-of-archive blocks must be there (a cut upload is refused, not half-read), and an entry
// of any other kind (a link, a device, a pax or GNU extension that renames what follows) is
// reported as what it is, for the importer to refuse. And the package is near its size budget
// (test/e2e/package.test.ts): node-tar added 26 KB packed for the little used of it.
// Pure: buffers in, buffers out.

const BLOCK = 512;

export interface UstarEntry {
  name: string;
  /** "File", "Directory", or the kind of entry pod refuses ("SymbolicLink", "Link", "CharacterDevice", …). */
  type: string;
  linkname: string;
  data: Buffer;
}

const TYPES: Record<string, string> = {
  "0": "File",
  "\0": "File",
  "1": "Link",
  "2": "SymbolicLink",
  "3": "CharacterDevice",
  "4": "BlockDevice",
  "5": "Directory",
  "6": "FIFO",
  "7": "ContiguousFile",
  x: "ExtendedHeader",
  g: "GlobalExtendedHeader",
  L: "GNULongName",
  K: "GNULongLink",
};

/** A ustar archive of these regular files (mode 0644, owner 0, the given time). Names must fit ustar's 100 + 155 bytes. */
export function writeUstar(files: readonly { name: string; data: Buffer }[], mtime = Math.floor(Date.now() / 1000)): Buffer {
  const parts: Buffer[] = [];
  for (const f of files) {
    const h = Buffer.alloc(BLOCK);
    const [prefix, name] = splitName(f.name);
    h.write(name, 0, 100, "utf8");
    octal(h, 0o644, 100, 8);
    octal(h, 0, 108, 8);
    octal(h, 0, 116, 8);
    octal(h, f.data.length, 124, 12);
    octal(h, mtime, 136, 12);
    h.write("0", 156, 1, "latin1");
    h.write("ustar\u000000", 257, 8, "latin1");
    h.write(prefix, 345, 155, "utf8");
    h.fill(0x20, 148, 156);
    octal(h, checksum(h), 148, 7);
    parts.push(h, f.data, Buffer.alloc((BLOCK - (f.data.length % BLOCK)) % BLOCK));
  }
  parts.push(Buffer.alloc(2 * BLOCK));
  return Buffer.concat(parts);
}

/** The entries of a ustar archive, in order. Throws (with why) on anything that is not a whole, well-formed archive. */
export function readUstar(tar: Buffer): UstarEntry[] {
  const entries: UstarEntry[] = [];
  for (let at = 0; ; ) {
    if (at + BLOCK > tar.length) throw new Error("the archive ends before its end-of-archive blocks (it was cut short)");
    const h = tar.subarray(at, at + BLOCK);
    if (h.every((b) => b === 0)) {
      if (at + 2 * BLOCK > tar.length || !tar.subarray(at + BLOCK, at + 2 * BLOCK).every((b) => b === 0)) throw new Error("the archive ends before its end-of-archive blocks (it was cut short)");
      return entries;
    }
    const want = readOctal(h, 148, 8);
    if (want === undefined || want !== checksum(h)) throw new Error(`the header at byte ${at} has a bad checksum`);
    const magic = h.toString("latin1", 257, 263);
    if (magic !== "ustar\u0000" && magic !== "ustar ") throw new Error(`the header at byte ${at} is not a ustar header`);
    const size = readOctal(h, 124, 12);
    if (size === undefined) throw new Error(`the header at byte ${at} has a size pod does not read`);
    const flag = String.fromCharCode(h[156]!);
    const prefix = cString(h, 345, 155);
    const name = (prefix ? `${prefix}/` : "") + cString(h, 0, 100);
    const start = at + BLOCK;
    const end = start + size;
    if (end > tar.length) throw new Error(`${JSON.stringify(name)} is cut short`);
    entries.push({ name, type: TYPES[flag] ?? `unknown (type ${JSON.stringify(flag)})`, linkname: cString(h, 157, 100), data: Buffer.from(tar.subarray(start, end)) });
    at = start + Math.ceil(size / BLOCK) * BLOCK;
  }
}

function splitName(full: string): [string, string] {
  if (Buffer.byteLength(full) <= 100) return ["", full];
  for (let i = full.indexOf("/"); i > 0; i = full.indexOf("/", i + 1)) {
    const prefix = full.slice(0, i);
    const name = full.slice(i + 1);
    if (Buffer.byteLength(prefix) <= 155 && Buffer.byteLength(name) <= 100) return [prefix, name];
  }
  throw new Error(`${full} is too long a name for a ustar archive`);
}

function checksum(h: Buffer): number {
  let sum = 0;
  for (let i = 0; i < BLOCK; i++) sum += i >= 148 && i < 156 ? 0x20 : h[i]!;
  return sum;
}

function octal(h: Buffer, n: number, at: number, len: number): void {
  h.write(n.toString(8).padStart(len - 1, "0") + "\0", at, len, "latin1");
}

/** An octal field (NUL- or space-terminated); undefined for anything else (base-256 sizes included). */
function readOctal(h: Buffer, at: number, len: number): number | undefined {
  const text = h.toString("latin1", at, at + len).replace(/[\0 ]+$/, "").replace(/^ +/, "");
  return /^[0-7]{1,12}$/.test(text) ? parseInt(text, 8) : undefined;
}

function cString(h: Buffer, at: number, len: number): string {
  const field = h.subarray(at, at + len);
  const nul = field.indexOf(0);
  return field.toString("utf8", 0, nul < 0 ? len : nul);
}
