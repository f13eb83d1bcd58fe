import { readFileSync } from "node:fs";
import { describe, expect, it } from "vitest";
import { assemble, generated } from "../../scripts/build-wasm.mjs";
import { CaseInsensitiveLiteral, CHUNK, rarestPair } from "../../src/tools/grep/ci-literal.js";

const escape = (s: string) => s.replace(/[.*+?^${}()|[\]\\]/g, "\\$&");

describe("case-insensitive literal search (WebAssembly)", () => {
  it("agrees with a case-insensitive regex on random needles and haystacks", () => {
    let seed = 11;
    const rnd = (n: number) => ((seed = (seed * 1103515245 + 12345) >>> 0) >>> 16) % n; // high bits: an LCG's low bits repeat quickly
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
      const want = new RegExp(escape(needle), "i").test(hay);
      if (want) found++;
      else if (swapped) nearMisses++;
      expect(CaseInsensitiveLiteral.create(needle)!.mayContain(Buffer.from(hay, "latin1")), `${JSON.stringify(needle)} in ${JSON.stringify(hay)}`).toBe(want);
    }
    // The test exercises matches and near misses, not only misses.
    expect(found).toBeGreaterThan(1000);
    expect(nearMisses).toBeGreaterThan(200);
  });

  it("finds a needle at any offset of a large haystack, and forgets the previous haystack", () => {
    const finder = CaseInsensitiveLiteral.create("NeedleCase")!;
    for (const size of [15, 16, 17, 4096, 70_000, 1_000_000]) {
      const hay = Buffer.alloc(size, "x");
      for (const at of [0, 1, Math.floor(size / 2), size - 10]) {
        if (at < 0 || at + 10 > size) continue;
        const h = Buffer.from(hay);
        h.write("nEEDLEcASE", at, "latin1");
        expect(finder.mayContain(h), `size ${size} at ${at}`).toBe(true);
      }
      // A needle cut off by the end is not found, even though the buffer held it before.
      expect(finder.mayContain(Buffer.concat([hay, Buffer.from("NEEDLECAS")]))).toBe(false);
      expect(finder.mayContain(hay)).toBe(false);
    }
  });

  it("searches haystacks larger than a piece piece by piece, a needle across two pieces included", () => {
    const finder = CaseInsensitiveLiteral.create("NeedleCase")!;
    const big = Buffer.alloc(2 * CHUNK + 7, "x");
    expect(finder.mayContain(big)).toBe(false);
    for (const at of [0, CHUNK - 5, CHUNK - 9, CHUNK, 2 * CHUNK - 4, big.length - 10]) {
      const hay = Buffer.from(big);
      hay.write("nEEDLEcASE", at, "latin1");
      expect(finder.mayContain(hay), `at ${at}`).toBe(true);
    }
  });

  it("takes only printable ASCII needles, and anchors on their rarest bytes", () => {
    expect(CaseInsensitiveLiteral.create("é-acute")).toBeUndefined();
    expect(CaseInsensitiveLiteral.create("x")).toBeUndefined();
    expect(CaseInsensitiveLiteral.create("tab\there")).toBeUndefined();
    const [i1, i2] = rarestPair("pod_needle");
    expect("pod_needle"[i1]).toBe("_");
    expect(i2).not.toBe(i1);
  });

  it("is the assembly of its committed .wat source", async () => {
    const dir = new URL("../../src/tools/grep/wasm/", import.meta.url);
    const bytes = await assemble(readFileSync(new URL("ci-literal.wat", dir), "utf8"), "ci-literal.wat");
    expect(readFileSync(new URL("ci-literal.wasm.ts", dir), "utf8")).toBe(generated("ci-literal", bytes));
  });
});
