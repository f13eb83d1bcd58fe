import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { describe, expect, it } from "vitest";
import { compileMatcher, containsLiteral, fileMatches, FileReader, requiredLiteral, toLiteral, type Matcher } from "../../src/tools/grep-matcher.js";

describe("requiredLiteral", () => {
  it("finds a literal every match must contain, conservatively", () => {
    expect(requiredLiteral("pod_needle")).toBe("pod_needle");
    expect(requiredLiteral("fn_[0-9]{4}_xyz")).toBe("_xyz");
    expect(requiredLiteral("foo\\.bar")).toBe("foo.bar");
    expect(requiredLiteral("colou?r")).toBe("colo");
    expect(requiredLiteral("ab+c")).toBe("ab");
    expect(requiredLiteral("a|b")).toBeUndefined();
    expect(requiredLiteral("(foo|bar)baz")).toBeUndefined(); // any alternation gives up
    expect(requiredLiteral("\\d+")).toBeUndefined();
    expect(requiredLiteral("x*")).toBeUndefined();
  });

  it("never makes the prefilter reject a file the regex would match", () => {
    const cases: [string, string][] = [
      ["fn_[0-9]{4}_xyz", "call fn_1234_xyz()"],
      ["colou?r", "color"],
      ["ab+c", "abbbc"],
      ["foo\\.bar", "foo.bar"],
      ["(foo|bar)baz", "barbaz"],
      ["x{2}y", "xxy"],
    ];
    for (const [pattern, text] of cases) {
      const m = compileMatcher(pattern, false) as Matcher;
      expect(fileMatches(Buffer.from(text), m), pattern).toBe(true);
    }
  });

  it("decodes UTF-8 where latin1 would change the answer", () => {
    const dot = compileMatcher("a.b", false) as Matcher;
    expect(dot.latin1Safe).toBe(false);
    expect(fileMatches(Buffer.from("aéb"), dot)).toBe(true);
    const ci = compileMatcher("needlecase", true) as Matcher;
    expect(ci.latin1Safe).toBe(true);
    expect(fileMatches(Buffer.from("ünïcode NEEDLECASE here"), ci)).toBe(true);
    expect(fileMatches(Buffer.from("needle\0case binary needlecase"), ci)).toBe(false);
  });

  it("takes a plain case-insensitive literal found by the byte search as a match, except where Unicode folds beyond ASCII", () => {
    const ci = compileMatcher("needlecase", true) as Matcher;
    expect(ci.exactAnyCase).toBe(true);
    expect(fileMatches(Buffer.from("x NeEdLeCaSe y"), ci)).toBe(true);
    expect(fileMatches(Buffer.from("needle case"), ci)).toBe(false);
    const kelvin = compileMatcher("kelvin", true) as Matcher;
    expect(fileMatches(Buffer.from("\u212Aelvin"), kelvin)).toBe(true); // the Kelvin sign folds to k, as in rg -i
    expect((compileMatcher("need.e", true) as Matcher).exactAnyCase).toBe(false);
  });
});

describe("literal search from the rarest byte", () => {
  it("anchors at the needle's rarest byte and still checks the bytes before it", () => {
    const lit = toLiteral(Buffer.from("pod_needle"));
    expect(lit.anchor).toBe(3); // "_" is rarer in source code than any of the letters
    expect(containsLiteral(Buffer.from("x pod_needle y"), lit)).toBe(true);
    expect(containsLiteral(Buffer.from("pod_needle"), lit)).toBe(true);
    // The tail alone, or a wrong head before it, is not a match.
    expect(containsLiteral(Buffer.from("_needle pad_needle"), lit)).toBe(false);
    // A rejected candidate is followed by a real one.
    expect(containsLiteral(Buffer.from("xod_needle pod_needle"), lit)).toBe(true);
    expect(containsLiteral(Buffer.from("od_needle"), lit)).toBe(false);
  });

  it("agrees with Buffer.indexOf on random haystacks", () => {
    let seed = 7;
    const rnd = (n: number) => ((seed = (seed * 1103515245 + 12345) >>> 0) >>> 16) % n; // high bits: an LCG's low bits repeat quickly
    const alphabet = "ab_d";
    for (let t = 0; t < 2000; t++) {
      const needle = Buffer.from(Array.from({ length: 3 + rnd(3) }, () => alphabet[rnd(4)]).join(""));
      const hay = Buffer.from(Array.from({ length: rnd(40) }, () => alphabet[rnd(4)]).join(""));
      expect(containsLiteral(hay, toLiteral(needle)), `${needle} in ${hay}`).toBe(hay.indexOf(needle) !== -1);
    }
  });
});

describe("case-insensitive matching beyond latin1", () => {
  it("finds k and s written as the Kelvin sign and long s, as ripgrep -i does", () => {
    const k = compileMatcher("xky", true) as Matcher;
    expect(fileMatches(Buffer.from("x\u212Ay"), k)).toBe(true);
    const s = compileMatcher("z[r-t]w", true) as Matcher;
    expect(fileMatches(Buffer.from("z\u017Fw"), s)).toBe(true);
    expect(fileMatches(Buffer.from("zaw"), s)).toBe(false);
  });
});

describe("FileReader", () => {
  const dir = mkdtempSync(path.join(tmpdir(), "pod-reader-"));
  it("reads files larger than its buffer whole, and refuses those over the cap", () => {
    const big = Buffer.alloc(700 * 1024, "a");
    big.write("END", big.length - 3);
    writeFileSync(path.join(dir, "big"), big);
    writeFileSync(path.join(dir, "small"), "hello");
    writeFileSync(path.join(dir, "empty"), "");
    const reader = new FileReader();
    expect(reader.read(path.join(dir, "small"), 1 << 20)?.toString()).toBe("hello");
    const got = reader.read(path.join(dir, "big"), 1 << 20)!;
    expect(got.length).toBe(big.length);
    expect(got.subarray(-3).toString()).toBe("END");
    expect(reader.read(path.join(dir, "big"), 500 * 1024)).toBeUndefined();
    expect(reader.read(path.join(dir, "empty"), 10)?.length).toBe(0);
    expect(reader.read(path.join(dir, "missing"), 10)).toBeUndefined();
    expect(reader.read(path.join(dir, "small"), 1 << 20)?.toString()).toBe("hello");
    // After shrinking (as a worker does between batches) it reads big and small files alike.
    reader.shrink();
    expect(reader.read(path.join(dir, "big"), 1 << 20)?.equals(big)).toBe(true);
    reader.shrink();
    expect(reader.read(path.join(dir, "small"), 1 << 20)?.toString()).toBe("hello");
  });
});
