import { mkdtempSync, writeFileSync } from "node:fs";
import { readFileSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { describe, expect, it } from "vitest";
import { assemble, generated } from "../../scripts/build-wasm.mjs";
import { LiteralFinder, rarestPair, Scanner } from "../../src/tools/grep/finder.js";
import { FileReader } from "../../src/tools/grep/matcher.js";

const escape = (s: string) => s.replace(/[.*+?^${}()|[\]\\]/g, "\\$&");
const lcg = (seed: number) => (n: number) => ((seed = (seed * 1103515245 + 12345) >>> 0) >>> 16) % n; // high bits: an LCG's low bits repeat quickly

/** Every occurrence, as the finder reports them one after another. */
function all(f: LiteralFinder, hay: Uint8Array): number[] {
  const out: number[] = [];
  for (let at = f.indexOf(hay, 0); at !== -1; at = f.indexOf(hay, at + 1)) out.push(at);
  return out;
}
function allIndexOf(hay: Buffer, needle: Buffer): number[] {
  const out: number[] = [];
  for (let at = hay.indexOf(needle); at !== -1; at = hay.indexOf(needle, at + 1)) out.push(at);
  return out;
}

describe("exact literal search (WebAssembly)", () => {
  it("finds every occurrence Buffer.indexOf finds, on random needles and haystacks", () => {
    const rnd = lcg(5);
    // Few distinct bytes, so needles recur, overlap and nearly match; a UTF-8 letter too.
    const alphabet = ["a", "b", "_", "é", "\n"];
    const text = (n: number) => Array.from({ length: n }, () => alphabet[rnd(alphabet.length)]).join("");
    let found = 0;
    for (let t = 0; t < 4000; t++) {
      const needle = Buffer.from(text(1 + rnd(6)));
      const hay = Buffer.from(text(rnd(120)));
      const f = LiteralFinder.create(needle.toString(), false)!;
      const want = allIndexOf(hay, needle);
      found += want.length;
      expect(all(f, hay), `${JSON.stringify(needle.toString())} in ${JSON.stringify(hay.toString())}`).toEqual(want);
    }
    expect(found).toBeGreaterThan(5000);
  });

  it("finds a needle at any offset around its 32-byte steps and at the very end, not past it", () => {
    const f = LiteralFinder.create("ReadableStream", false)!;
    for (const size of [14, 15, 31, 32, 33, 63, 64, 65, 4096, 70_000]) {
      const hay = Buffer.alloc(size, "x");
      for (let at = 0; at + 14 <= size; at += at < 70 ? 1 : 997) {
        const h = Buffer.from(hay);
        h.write("ReadableStream", at, "latin1");
        expect(f.indexOf(h), `size ${size} at ${at}`).toBe(at);
        expect(f.indexOf(h, at + 1), `size ${size} after ${at}`).toBe(-1);
      }
      // Cut off by the end: not found, although the memory held it for the last haystack.
      expect(f.indexOf(Buffer.concat([hay, Buffer.from("ReadableStrea")]))).toBe(-1);
      expect(f.indexOf(hay)).toBe(-1);
    }
  });

  it("searches a needle longer than the module holds with Buffer.indexOf", () => {
    const needle = "n".repeat(1500) + "eedle";
    const hay = Buffer.from(`x${"n".repeat(3000)}eedle y`);
    expect(LiteralFinder.create(needle, false)!.indexOf(hay)).toBe(1 + 1500);
  });
});

describe("case-insensitive literal search (WebAssembly)", () => {
  it("agrees with a case-insensitive regex on random needles and haystacks", () => {
    const rnd = lcg(11);
    // Letters in both cases, and the bytes a sloppy fold (b | 0x20) would take for
    // others: @ and `, [ and {, ^ and ~, 0 and P, _ and DEL (DEL only in haystacks).
    const alphabet = "aAbBzZ@`[{^~_0P ";
    const isLetter = (c: string) => /[a-z]/i.test(c);
    const twin = (c: string) => String.fromCharCode(c.charCodeAt(0) ^ 0x20);
    const randomText = (n: number) => Array.from({ length: n }, () => alphabet[rnd(alphabet.length)]).join("");
    let found = 0;
    let nearMisses = 0;
    for (let t = 0; t < 6000; t++) {
      const needle = randomText(2 + rnd(7));
      // Plant the needle with letters' case flipped at random, and now and then a
      // non-letter swapped for its 0x20 twin: a near miss only a sloppy fold accepts.
      let swapped = false;
      const planted = [...needle].map((c) => (isLetter(c) ? (rnd(2) ? twin(c) : c) : rnd(8) ? c : ((swapped = true), twin(c)))).join("");
      const hay = randomText(rnd(40)) + (rnd(4) ? planted : "") + randomText(rnd(40));
      const want = new RegExp(escape(needle), "i").exec(hay)?.index ?? -1;
      if (want !== -1) found++;
      else if (swapped) nearMisses++;
      expect(LiteralFinder.create(needle, true)!.indexOf(Buffer.from(hay, "latin1")), `${JSON.stringify(needle)} in ${JSON.stringify(hay)}`).toBe(want);
    }
    // The test exercises matches and near misses, not only misses.
    expect(found).toBeGreaterThan(1000);
    expect(nearMisses).toBeGreaterThan(200);
  });

  it("takes only printable ASCII needles of two characters or more, and anchors on their rarest bytes", () => {
    expect(LiteralFinder.create("é-acute", true)).toBeUndefined();
    expect(LiteralFinder.create("x", true)).toBeUndefined();
    expect(LiteralFinder.create("tab\there", true)).toBeUndefined();
    expect(LiteralFinder.create("", false)).toBeUndefined();
    const [i1, i2] = rarestPair(Buffer.from("pod_needle"), true);
    expect("pod_needle"[i1]).toBe("_");
    expect(i2).not.toBe(i1);
  });
});

describe("one scanner, shared by a thread's reader and finders", () => {
  it("searches a file where the reader put it, and reloads each finder's needle when they alternate", () => {
    const dir = mkdtempSync(path.join(tmpdir(), "pod-finder-"));
    const body = Buffer.alloc(300 * 1024, "x");
    body.write("Needle", 200_000, "latin1");
    body.write("OTHER", 299_000, "latin1");
    writeFileSync(path.join(dir, "f"), body);
    const scanner = new Scanner();
    const reader = new FileReader(scanner);
    const exact = LiteralFinder.create("Needle", false, scanner)!;
    const folded = LiteralFinder.create("other", true, scanner)!;
    const bytes = reader.read(path.join(dir, "f"), 1 << 20)!;
    // The bytes are the scanner's memory: no copy is made (a copy would land at the same place).
    expect(bytes.buffer).toBe(scanner.room(0).buffer);
    for (let i = 0; i < 3; i++) {
      expect(exact.indexOf(bytes)).toBe(200_000);
      expect(folded.indexOf(bytes)).toBe(299_000);
    }
    // A haystack from elsewhere is copied in: the reader's file is then gone, so it is read again.
    expect(exact.indexOf(Buffer.from("..Needle"))).toBe(2);
    expect(exact.indexOf(reader.read(path.join(dir, "f"), 1 << 20)!)).toBe(200_000);
  });

  it("starts small again after reset, and finds needles as before", () => {
    const scanner = new Scanner();
    const f = LiteralFinder.create("tail", false, scanner)!;
    const big = Buffer.alloc(5 << 20, "a");
    big.write("tail", big.length - 4);
    expect(f.indexOf(big)).toBe(big.length - 4);
    expect(scanner.capacity).toBeGreaterThanOrEqual(big.length);
    scanner.reset();
    expect(scanner.capacity).toBeLessThan(1 << 20);
    expect(f.indexOf(Buffer.from("a tail"))).toBe(2);
  });

  it("is the assembly of its committed .wat source", async () => {
    const dir = new URL("../../src/tools/grep/wasm/", import.meta.url);
    const bytes = await assemble(readFileSync(new URL("finder.wat", dir), "utf8"), "finder.wat");
    expect(readFileSync(new URL("finder.wasm.ts", dir), "utf8")).toBe(generated("finder", bytes));
  });
});
