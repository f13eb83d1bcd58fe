import { BYTE_RANKS } from "./byte-ranks.js";
import { WASM_BASE64 } from "./wasm/ci-literal.wasm.js";

/** Where the haystack starts in the module's memory; the needle sits below it. */
const HAY = 2048;
const MAX_NEEDLE = 1024;
/** Bytes after the haystack that the 16-byte loads may read; kept zero. */
const SLACK = 32;
const PAGE = 65536;
/**
 * Haystacks are searched in pieces of this size (overlapping by the needle's length),
 * so the module's memory stays small, and a common literal found early costs a copy
 * of its first piece, not of the whole file.
 */
export const CHUNK = 256 * 1024;

interface Exports {
  memory: WebAssembly.Memory;
  setNeedle(len: number, i1: number, i2: number): void;
  find(hay: number, n: number): number;
}

/**
 * Looks for an ASCII literal in raw bytes, ignoring the case of its letters, with
 * WebAssembly SIMD (wasm/ci-literal.wat): two of the needle's bytes, the
 * rarest in source code in either case, are compared 16 positions at a time, and
 * only where both fit is the whole needle checked. It lets case-insensitive Grep
 * skip files without decoding them, as a case-sensitive literal search does with
 * Buffer.indexOf; V8's regex engine is five times slower over the same bytes.
 */
export class CaseInsensitiveLiteral {
  private readonly exports: Exports;
  private bytes: Uint8Array;
  private readonly length: number;

  /** undefined unless the needle is printable ASCII of 2 to 1024 characters. */
  static create(needle: string): CaseInsensitiveLiteral | undefined {
    if (needle.length < 2 || needle.length > MAX_NEEDLE || !/^[\x20-\x7e]+$/.test(needle)) return undefined;
    return new CaseInsensitiveLiteral(needle.toLowerCase());
  }

  private constructor(lower: string) {
    // One instance (and memory) per finder, of one module per thread: V8's optimized
    // code for the scan loop belongs to the module, so a thread's later patterns (and
    // the warm-up's) share it instead of starting again from the baseline compiler.
    this.exports = new WebAssembly.Instance(finderModule()).exports as unknown as Exports;
    this.bytes = new Uint8Array(this.exports.memory.buffer);
    this.length = lower.length;
    this.bytes.set(Buffer.from(lower, "latin1"), 0);
    const [i1, i2] = rarestPair(lower);
    this.exports.setNeedle(lower.length, i1, i2);
  }

  /** Whether `hay` contains the needle in some mix of case (of its ASCII letters). */
  mayContain(hay: Uint8Array): boolean {
    // A larger haystack goes piece by piece: the module's memory never shrinks, and a long-lived worker keeps it.
    for (let from = 0; from < hay.length; from += CHUNK) {
      if (this.findIn(hay.subarray(from, Math.min(hay.length, from + CHUNK + this.length - 1)))) return true;
      if (from + CHUNK + this.length - 1 >= hay.length) break;
    }
    return false;
  }

  private findIn(hay: Uint8Array): boolean {
    const need = HAY + hay.length + SLACK;
    if (this.bytes.length < need) {
      const grow = Math.max(need, this.bytes.length * 2) - this.bytes.length;
      this.exports.memory.grow(Math.ceil(grow / PAGE));
      this.bytes = new Uint8Array(this.exports.memory.buffer);
    }
    this.bytes.set(hay, HAY);
    this.bytes.fill(0, HAY + hay.length, HAY + hay.length + SLACK);
    return this.exports.find(HAY, hay.length) === 1;
  }
}

let compiled: WebAssembly.Module | undefined;
function finderModule(): WebAssembly.Module {
  return (compiled ??= new WebAssembly.Module(Buffer.from(WASM_BASE64, "base64")));
}

/** A letter is as common as its commoner case. */
function commonness(byte: number): number {
  const isLetter = byte >= 0x61 && byte <= 0x7a;
  return isLetter ? Math.max(BYTE_RANKS[byte]!, BYTE_RANKS[byte - 0x20]!) : BYTE_RANKS[byte]!;
}

/** The two positions whose bytes are rarest, preferring two different bytes. */
export function rarestPair(lower: string): [number, number] {
  const order = [...lower].map((_, i) => i).sort((a, b) => commonness(lower.charCodeAt(a)) - commonness(lower.charCodeAt(b)) || a - b);
  const i1 = order[0]!;
  const i2 = order.find((i) => lower[i] !== lower[i1]) ?? order[1]!;
  return [i1, i2];
}
