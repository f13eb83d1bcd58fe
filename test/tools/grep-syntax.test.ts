// The three readers of a pattern (the line-semantics rewrite, the required literal,
// the reach from it) share one tokenizer since the Grep room was made; before, each
// had its own group-head and quantifier regexes. This compares each with its frozen
// earlier self (test/tools/grep-reference/) on thousands of random patterns, valid
// and not, so that sharing the tokenizer changed nothing they answer.
import { describe, expect, it } from "vitest";
import { literalSplit } from "../../src/tools/grep/literal.js";
import { reachOf, window } from "../../src/tools/grep/reach.js";
import { tokenize, toEngineSource } from "../../src/tools/grep/syntax.js";
import { literalSplit as oldLiteralSplit } from "./grep-reference/literal.js";
import { reachOf as oldReachOf, window as oldWindow } from "./grep-reference/reach.js";
import { toEngineSource as oldToEngineSource } from "./grep-reference/syntax.js";

function rng(seed: number) {
  return () => ((seed = (Math.imul(seed, 1103515245) + 12345) >>> 0) / 2 ** 32);
}

// Pieces chosen to hit every branch of the three readers: escapes of each shape,
// classes (negated, with "]" or ")" inside, unclosed), every group head, lookarounds,
// quantifiers (lazy, counted, malformed), anchors, astral characters, newlines.
const PIECES = [
  "a", "b", "x", "_", "Sync", "err", "fn", " ", "=", ".", "^", "$", "|", "(", ")", "*", "+", "?", "*?", "+?", "??",
  "{2}", "{1,3}", "{2,}", "{2}?", "{", "}", "{x}", "{12345678901234567890123456789012345}", "]", "-",
  "\\", "\\.", "\\(", "\\\\", "\\d", "\\w", "\\s", "\\S", "\\W", "\\D", "\\b", "\\B", "\\n", "\\x41", "\\x0a", "\\u0041", "\\u{1F600}",
  "\\p{L}", "\\P{L}", "\\cJ", "\\k<n>", "\\1", "\\0",
  "[a-z]", "[^)]", "[)]", "[\\]]", "[\\n]", "[\\s]", "[^a", "[",
  "(?:", "(?<n>", "(?<averyveryveryveryveryveryverylongname>", "(?=", "(?!", "(?<=", "(?<!", "(?", "(?<",
  "😀", "é", "\n",
];

function randomPattern(r: () => number): string {
  let p = "";
  const n = 1 + Math.floor(r() * 9);
  for (let i = 0; i < n; i++) p += PIECES[Math.floor(r() * PIECES.length)]!;
  return p;
}

function compiledFlags(pattern: string): string | undefined {
  const engine = oldToEngineSource(pattern, false);
  if ("error" in engine) return undefined;
  for (const flags of ["gu", "g"]) {
    try {
      return new RegExp(engine.source, flags).flags;
    } catch {
      // the next flags
    }
  }
  return undefined;
}

describe("one tokenizer for the three pattern readers", () => {
  it("splits every pattern into contiguous tokens", () => {
    const r = rng(28);
    for (let i = 0; i < 2000; i++) {
      const p = randomPattern(r);
      let at = 0;
      for (const t of tokenize(p)) {
        expect(t.start, p).toBe(at);
        expect(t.end, p).toBeGreaterThan(t.start);
        at = t.end;
      }
      expect(at, p).toBe(p.length);
    }
  });

  it("changes nothing the line rewrite, the required literal or the reach answer (6,000 random patterns)", () => {
    const r = rng(20261203);
    let reaches = 0;
    let literals = 0;
    for (let i = 0; i < 6000; i++) {
      const p = randomPattern(r);
      expect(toEngineSource(p, false), p).toEqual(oldToEngineSource(p, false));
      expect(toEngineSource(p, true), p).toEqual(oldToEngineSource(p, true));
      const split = literalSplit(p);
      expect(split, p).toEqual(oldLiteralSplit(p));
      if (split) literals++;
      // The reach is asked only of patterns V8 compiled, split at a literal (compileMatcher).
      // One deliberate change: an astral character is one character now, so it reaches
      // 4 bytes, not 4 for each of its UTF-16 halves (the test below).
      const flags = compiledFlags(p);
      if (split && flags && !/[\uD800-\uDFFF]/.test(p)) {
        const reach = reachOf(p, split.start, split.end, flags);
        expect(reach, p).toEqual(oldReachOf(p, split.start, split.end, flags));
        if (reach) reaches++;
      }
    }
    // The comparison covered every reader, not only refusals.
    expect(literals).toBeGreaterThan(1000);
    expect(reaches).toBeGreaterThan(300);
  });

  it("reads an astral character as one character: it reaches one UTF-8 character, 4 bytes", () => {
    const p = "😀+?xyz😀";
    const split = literalSplit(p)!;
    expect(split.literal).toBe("xyz");
    const reach = reachOf(p, split.start, split.end, "gu")!;
    const old = oldReachOf(p, split.start, split.end, "gu")!;
    const bytes = Buffer.from("xyz😀 and the rest of the line");
    // After the literal: the emoji's 4 bytes, then one character more for the assertions.
    expect(window(reach, bytes, 0, 3, 0, bytes.length)).toEqual([0, 3 + 4 + 1]);
    // Before, each UTF-16 half was taken for up to 4 bytes: an over-estimate, so exact, but twice as long.
    expect(oldWindow(old, bytes, 0, 3, 0, bytes.length)).toEqual([0, 3 + 8 + 1]);
  });
});
