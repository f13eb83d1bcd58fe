import { BYTE_RANKS } from "./byte-ranks.js";
import { WASM_BASE64 } from "./wasm/finder.wasm.js";

/** Where haystacks start in a scanner's memory; the needle sits below. */
const HAY = 2048;
const MAX_NEEDLE = 1024;
/** Bytes after a haystack that the finder's 16-byte loads may read (their content is never used). */
const SLACK = 32;
const PAGE = 65536;

interface Exports {
  memory: WebAssembly.Memory;
  setNeedle(len: number, i1: number, i2: number, fold: number): void;
  find(hay: number, n: number, from: number): number;
}

/**
 * One thread's WebAssembly finder (wasm/finder.wat) and its memory. A file read into
 * `room()` (FileReader) is searched where it lies; any other haystack is copied in
 * first. The memory only grows (a WebAssembly memory cannot shrink): `reset()`
 * drops it for a fresh one after a file much larger than the usual.
 *
 * One per worker thread, shared by its reader and the finders of its patterns:
 * V8's optimized code for the scan loop belongs to the module, kept for the
 * thread's life, and the needle loaded is whichever finder searched last.
 */
export class Scanner {
  private exports: Exports;
  private bytes: Uint8Array;
  private view: Buffer;
  /** The finder whose needle is loaded. */
  owner: LiteralFinder | undefined;

  constructor() {
    this.exports = new WebAssembly.Instance(finderModule()).exports as unknown as Exports;
    this.bytes = new Uint8Array(this.exports.memory.buffer);
    this.view = this.haystacks();
  }

  /** How many haystack bytes fit without growing. */
  get capacity(): number {
    return this.bytes.length - HAY - SLACK;
  }

  /**
   * The haystack's room, at least `size` bytes, as a Buffer over the memory: valid
   * until the next room() or reset() (growing keeps what it holds, at the same offsets).
   */
  room(size: number): Buffer {
    if (this.capacity < size) {
      const need = HAY + size + SLACK;
      const grow = Math.max(need, this.bytes.length * 2) - this.bytes.length;
      this.exports.memory.grow(Math.ceil(grow / PAGE));
      this.bytes = new Uint8Array(this.exports.memory.buffer);
      this.view = this.haystacks();
    }
    return this.view;
  }

  /** A fresh, small memory (the finder's code is kept). */
  reset(): void {
    this.exports = new WebAssembly.Instance(finderModule()).exports as unknown as Exports;
    this.bytes = new Uint8Array(this.exports.memory.buffer);
    this.view = this.haystacks();
    this.owner = undefined;
  }

  private haystacks(): Buffer {
    return Buffer.from(this.bytes.buffer, HAY, Math.max(0, this.capacity));
  }

  load(finder: LiteralFinder, needle: Uint8Array, i1: number, i2: number, fold: boolean): void {
    this.bytes.set(needle, 0);
    this.exports.setNeedle(needle.length, i1, i2, fold ? 1 : 0);
    this.owner = finder;
  }

  /** The first occurrence of the loaded needle in hay[from..], or -1. */
  find(hay: Uint8Array, from: number): number {
    let at = hay.byteOffset;
    if (hay.buffer !== this.bytes.buffer || at < HAY) {
      this.room(hay.length).set(hay);
      at = HAY;
    }
    return this.exports.find(at, hay.length, from);
  }
}

/**
 * A literal looked for in raw bytes, exactly or ignoring the case of its ASCII
 * letters (`fold`), with WebAssembly SIMD: two of its bytes, the rarest in source
 * code, are compared 32 positions at a time, and only where both fit is the whole
 * literal checked. Measured on the Linux tree (265 MB, every occurrence): 2-4x
 * fewer milliseconds than Buffer.indexOf, whose memchr stops at every occurrence of
 * one byte (an "r" every 16 bytes of C for "err") and whose Boyer–Moore–Horspool
 * (7 bytes or more) reads a byte at a time; V8's regex engine is slower still.
 */
export class LiteralFinder {
  private readonly needle: Buffer;
  private readonly i1: number;
  private readonly i2: number;

  /**
   * `needle` as (UTF-8) bytes; undefined if empty, or folding and not printable ASCII
   * of at least 2 characters. A needle over 1024 bytes is searched with
   * Buffer.indexOf. Without a scanner of its own thread's, it makes one on first use.
   */
  static create(needle: string, fold: boolean, scanner?: Scanner): LiteralFinder | undefined {
    if (needle.length === 0 || (fold && (needle.length < 2 || !/^[\x20-\x7e]+$/.test(needle)))) return undefined;
    return new LiteralFinder(Buffer.from(fold ? needle.toLowerCase() : needle), fold, scanner);
  }

  private constructor(
    needle: Buffer,
    private readonly fold: boolean,
    private scanner: Scanner | undefined,
  ) {
    this.needle = needle;
    [this.i1, this.i2] = rarestPair(needle, fold);
  }

  /** The first occurrence at or after `from`, or -1. */
  indexOf(hay: Uint8Array, from = 0): number {
    if (this.needle.length > MAX_NEEDLE) return Buffer.from(hay.buffer, hay.byteOffset, hay.length).indexOf(this.needle, from);
    const scanner = (this.scanner ??= new Scanner());
    if (scanner.owner !== this) scanner.load(this, this.needle, this.i1, this.i2, this.fold);
    return scanner.find(hay, from);
  }

  includes(hay: Uint8Array): boolean {
    return this.indexOf(hay, 0) !== -1;
  }
}

let compiled: WebAssembly.Module | undefined;
function finderModule(): WebAssembly.Module {
  return (compiled ??= new WebAssembly.Module(Buffer.from(WASM_BASE64, "base64")));
}

/** How common a byte is in source code; folding, a letter is as common as its commoner case. */
function commonness(byte: number, fold: boolean): number {
  const isLetter = byte >= 0x61 && byte <= 0x7a;
  return fold && isLetter ? Math.max(BYTE_RANKS[byte]!, BYTE_RANKS[byte - 0x20]!) : BYTE_RANKS[byte]!;
}

/** The two positions whose bytes are rarest, preferring two different bytes. */
export function rarestPair(needle: Uint8Array, fold: boolean): [number, number] {
  const order = [...needle.keys()].sort((a, b) => commonness(needle[a]!, fold) - commonness(needle[b]!, fold) || a - b);
  const i1 = order[0]!;
  const i2 = order.find((i) => needle[i] !== needle[i1]) ?? order[1] ?? i1;
  return [i1, i2];
}
