import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { describe, expect, it } from "vitest";
import { compileMatcher, countMatchingLines, fileMatches, FileReader, hasMatch, requiredLiteral, toLiteral, type Matcher } from "../../src/tools/grep/matcher.js";
import { lineHoldsMatch } from "../../src/tools/grep/literal.js";
import { drill, drillReads } from "../../src/tools/grep/drill.js";
import { Scanner } from "../../src/tools/grep/finder.js";
import { matchedLines } from "../../src/tools/grep/search.js";

describe("requiredLiteral", () => {
  it("finds a literal every match must contain, conservatively", () => {
    expect(requiredLiteral("pod_needle")).toBe("pod_needle");
    expect(requiredLiteral("fn_[0-9]{4}_xyz")).toBe("_xyz");
    expect(requiredLiteral("foo\\.bar")).toBe("foo.bar");
    expect(requiredLiteral("colou?r")).toBe("colo");
    expect(requiredLiteral("ab+c")).toBe("a"); // a quantified character ends the run before it
    expect(requiredLiteral("a|b")).toBeUndefined(); // a top-level alternation gives up
    expect(requiredLiteral("(foo|bar)baz")).toBe("baz"); // one inside a group does not
    expect(requiredLiteral("a\\\\|bcd")).toBeUndefined(); // an escaped backslash, then an alternation
    // Escapes are read whole: \x41 is "A", not a backslash-x followed by the literal "41".
    expect(requiredLiteral("a\\x41bc")).toBe("bc");
    expect(requiredLiteral("\\u0041xyz")).toBe("xyz");
    expect(requiredLiteral("(?<n>q)\\k<n>zz")).toBe("zz");
    // A ")" inside a class does not close the group: the optional group's "ab" is not required.
    expect(requiredLiteral("(?:[)]ab)?cd")).toBe("cd");
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
      ["a\\x41bc", "aAbc"],
      ["(?:[)]ab)?cd", "cd"],
      ["a\\\\|bcd", "bcd"],
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

describe("the anchored check at the literal's occurrences", () => {
  // Random line-mode patterns around a required literal, on random lines: checking
  // each occurrence with (?<=before)literal after must say what the whole regex says.
  const ATOMS = ["a", "b", "\\w+", "\\w*", "\\s*", "\\s", "[ab]", "[^a]", "(a|b)", "(?:ab)?", "a{2}", "b?", ".", ".*", "^", "$", "\\b", "\\B", "(?=a)", "(?<!b)", "\\(", "\\W"];
  let seed = 11;
  const rnd = (n: number) => ((seed = (seed * 1103515245 + 12345) >>> 0) >>> 16) % n;
  const pick = <T,>(xs: T[]) => xs[rnd(xs.length)]!;
  const text = (n: number) => Array.from({ length: n }, () => pick(["a", "b", "S", "y", "n", " ", "(", "_", "\n", "é"])).join("");

  it("agrees with the whole-line regex on 3,000 random patterns and texts", () => {
    let checked = 0;
    for (let t = 0; t < 3000; t++) {
      const before = Array.from({ length: rnd(3) }, () => pick(ATOMS)).join("");
      const after = Array.from({ length: rnd(3) }, () => pick(ATOMS)).join("");
      const pattern = `${before}Syn${after}`;
      const m = compileMatcher(pattern, false) as Matcher;
      expect(m.anchored, pattern).toBeDefined();
      const body = text(rnd(60));
      const plain = { ...m, anchored: undefined };
      expect(matchedLines(body, m), `${pattern} in ${JSON.stringify(body)}`).toEqual(matchedLines(body, plain));
      for (const line of body.split("\n")) {
        m.regex.lastIndex = 0;
        expect(lineHoldsMatch(line, "Syn", m.anchored!), `${pattern} in ${JSON.stringify(line)}`).toBe(m.regex.test(line));
      }
      expect(fileMatches(Buffer.from(body), m), pattern).toBe(fileMatches(Buffer.from(body), plain));
      checked++;
    }
    expect(checked).toBe(3000);
  });

  it("agrees on lines past 64 KB, where only the stretch each occurrence can reach is decoded", () => {
    const filler = (n: number) => Array.from({ length: n }, () => pick(["a", "b", "y", "n", " ", "(", "_", "é", "}"])).join("");
    for (let t = 0; t < 300; t++) {
      const before = Array.from({ length: rnd(3) }, () => pick(ATOMS)).join("");
      const after = Array.from({ length: rnd(3) }, () => pick(ATOMS)).join("");
      const pattern = `${before}Syn${after}`;
      const m = compileMatcher(pattern, false) as Matcher;
      // One long line with the literal in a few places (and a short line after it, sometimes).
      let line = filler(20_000);
      for (let k = 0; k < 4; k++) line += `${filler(rnd(8))}Syn${filler(rnd(8))}${filler(rnd(2) ? 17_000 : 10)}`;
      const body = Buffer.from(rnd(2) ? line : `${line}\nsome Syn(\n`);
      const plain = { ...m, anchored: undefined, reach: undefined };
      expect(fileMatches(body, m), pattern).toBe(fileMatches(body, plain));
      // Counted in the bytes, windowed on the long line, as the whole-text regex counts.
      expect(countMatchingLines(body, m, "utf8"), pattern).toBe(matchedLines(body.toString(), plain).length);
    }
  });

  it("decodes a few bytes around each occurrence, not the whole line", async () => {
    const { window } = await import("../../src/tools/grep/reach.js");
    const m = compileMatcher("\\w+Sync\\(", false) as Matcher;
    const line = Buffer.from(`${"x = 1; ".repeat(20_000)}fs.readFileSync(p)${" y".repeat(20_000)}`);
    const at = line.indexOf("Sync(");
    expect(window(m.reach!, line, at, 5, 0, line.length)).toEqual([at - "readFile".length - 1, at + 6]);
    const err = compileMatcher("err(or)?\\s*=", false) as Matcher;
    const text = Buffer.from(`${"a".repeat(100)} errors = 1 ${"b".repeat(100)}`);
    // "or", no spaces before the "s", one character for "=", one more for assertions: an over-estimate, never less.
    expect(window(err.reach!, text, 101, 3, 0, text.length)).toEqual([100, 108]);
    expect((compileMatcher("(?=x)\\w+Sync", false) as Matcher).reach).toBeUndefined(); // a lookaround: the whole line
  });

  it("is not used where it would be wrong or useless", () => {
    expect((compileMatcher("(a)\\1Sync", false) as Matcher).anchored).toBeUndefined(); // a backreference
    expect((compileMatcher("\\w+Sync", true) as Matcher).anchored).toBeUndefined(); // case-insensitive: found by the SIMD finder
    expect((compileMatcher("\\w+Sync", false, true) as Matcher).anchored).toBeUndefined(); // multiline
    expect((compileMatcher("\\w+Sync\\(", false) as Matcher).latin1Safe).toBe(true); // \w is ASCII-only
    expect((compileMatcher("\\w+Sync", true) as Matcher).latin1Safe).toBe(false); // ...but folds ſ and K with i
    expect((compileMatcher("err\\s*=", false) as Matcher).latin1Safe).toBe(false); // \s holds U+00A0
  });
});

describe("literal search", () => {
  it("finds the whole literal, not a part of it or a near miss", () => {
    const lit = toLiteral("pod_needle");
    expect(lit.finder.includes(Buffer.from("x pod_needle y"))).toBe(true);
    expect(lit.finder.includes(Buffer.from("pod_needle"))).toBe(true);
    // The rarest bytes alone, or a wrong head before them, are not a match.
    expect(lit.finder.includes(Buffer.from("_needle pad_needle"))).toBe(false);
    // A rejected candidate is followed by a real one.
    expect(lit.finder.includes(Buffer.from("xod_needle pod_needle"))).toBe(true);
    expect(lit.finder.includes(Buffer.from("od_needle"))).toBe(false);
  });

  it("agrees with Buffer.indexOf on random haystacks", () => {
    let seed = 7;
    const rnd = (n: number) => ((seed = (seed * 1103515245 + 12345) >>> 0) >>> 16) % n; // high bits: an LCG's low bits repeat quickly
    const alphabet = "ab_d";
    for (let t = 0; t < 2000; t++) {
      const needle = Buffer.from(Array.from({ length: 3 + rnd(3) }, () => alphabet[rnd(4)]).join(""));
      const hay = Buffer.from(Array.from({ length: rnd(40) }, () => alphabet[rnd(4)]).join(""));
      expect(toLiteral(needle.toString()).finder.includes(hay), `${needle} in ${hay}`).toBe(hay.indexOf(needle) !== -1);
    }
  });

  it("is exact in case: the same letters in another case are refused, at any offset of a large file", () => {
    const exact = compileMatcher("ReadableStream", false) as Matcher;
    const regex = compileMatcher("ReadableStream\\w*\\(", false) as Matcher;
    const size = 600 * 1024;
    const at = (text: string, offset: number) => {
      const b = Buffer.alloc(size, "x");
      b.write(`\n${text}(\n`, offset, "latin1");
      return b;
    };
    for (const offset of [0, 31, 32, 65_535, 262_143, size - 30]) {
      expect(fileMatches(at("ReadableStream", offset), exact), `at ${offset}`).toBe(true);
      expect(fileMatches(at("ReadableStreamDefault", offset), regex), `at ${offset}`).toBe(true);
      expect(fileMatches(at("readablestream", offset), exact), `at ${offset}`).toBe(false);
      expect(fileMatches(at("READABLESTREAMX", offset), regex), `at ${offset}`).toBe(false);
    }
    expect(fileMatches(Buffer.alloc(size, "y"), exact)).toBe(false);
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

describe("fileMatches, whatever order it checks in", () => {
  // The binary check runs only once the literal is found, and a case-insensitive
  // literal holding k or s is first looked for by a run without them: neither may
  // change an answer. The reference decodes the whole file and runs the regex.
  let seed = 5;
  const rnd = (n: number) => ((seed = (seed * 1103515245 + 12345) >>> 0) >>> 16) % n;
  const PIECES = ["k", "K", "s", "S", "\u212A", "\u017F", "e", "E", "y", "x", " ", "\n"];
  const PATTERNS: Array<[string, boolean]> = [
    ["sky", true], ["kiss", true], ["yeske", true], ["xsy", true], ["sexy", true], ["sky\\s*x", true], ["y[k]e", true], ["eyes", true],
    ["sky", false], ["ekey", false], ["sky\\s*x", false], ["e(s|k)y", false], ["yes.", false],
  ];
  const SPELLINGS: Record<string, string[]> = { k: ["k", "K", "\u212A"], s: ["s", "S", "\u017F"] };
  /** The pattern's letters, each in a random spelling (mostly as written), sometimes one dropped, amid random pieces, now and then with a NUL. */
  const fileFor = (pattern: string) => {
    const letters = [...pattern.replace(/[^a-z]/g, "")].map((c) => (rnd(3) ? c : (SPELLINGS[c]?.[rnd(3)] ?? c.toUpperCase())));
    if (rnd(4) === 0) letters.splice(rnd(letters.length), 1);
    const around = () => Array.from({ length: rnd(12) }, () => PIECES[rnd(PIECES.length)]!).join("");
    const parts = [around(), letters.join(rnd(3) === 0 ? " " : ""), around()];
    if (rnd(6) === 0) parts.splice(rnd(4), 0, "\0");
    const text = parts.join("");
    // Now and then the whole text past the first 8 KB, where a NUL no longer makes a file binary.
    return rnd(8) === 0 ? Buffer.concat([Buffer.alloc(8192, "y"), Buffer.from(text)]) : Buffer.from(text);
  };
  const reference = (bytes: Buffer, m: Matcher) => !bytes.subarray(0, 8192).includes(0) && hasMatch(bytes.toString("utf8"), m.regex);

  it("agrees with decoding the whole file and running the regex, on 4,000 random files", () => {
    let matched = 0;
    for (let t = 0; t < 4000; t++) {
      const [pattern, ci] = PATTERNS[t % PATTERNS.length]!;
      const m = compileMatcher(pattern, ci) as Matcher;
      const bytes = fileFor(pattern);
      const expected = reference(bytes, m);
      if (expected) matched++;
      expect(fileMatches(bytes, m), `${pattern}${ci ? " -i" : ""} on ${JSON.stringify(bytes.toString().slice(-60))}`).toBe(expected);
    }
    expect(matched).toBeGreaterThan(400); // the files do hold matches
    expect(matched).toBeLessThan(3600); // and misses
  });

  it("finds a literal spelled with the Kelvin sign or long s by its run without k or s", () => {
    const m = compileMatcher("xmlhttprequest", true) as Matcher;
    expect(fileMatches(Buffer.from("new XMLHttpReque\u017Ft()"), m)).toBe(true);
    expect(fileMatches(Buffer.from("new XMLHttpRequest()"), m)).toBe(true);
    expect(fileMatches(Buffer.from("new XMLHttpReque()"), m)).toBe(false);
    expect(fileMatches(Buffer.from("new XMLHttpRequest()\0"), m)).toBe(false); // binary
    const kelvin = compileMatcher("kernel", true) as Matcher;
    expect(fileMatches(Buffer.from("the \u212Aernel"), kelvin)).toBe(true);
    expect(fileMatches(Buffer.from("the \u212Aerne"), kelvin)).toBe(false);
  });
});

describe("a thread's drill (drill.ts)", () => {
  it("leaves its scanner to the searches after it: their needles and memory are their own", () => {
    const scanner = new Scanner();
    const before = compileMatcher("pod_needle", false, false, scanner) as Matcher;
    drill(scanner, 2);
    const after = compileMatcher("other_needle", true, false, scanner) as Matcher;
    const reader = new FileReader(scanner);
    const dir = mkdtempSync(path.join(tmpdir(), "pod-drill-"));
    writeFileSync(path.join(dir, "f"), "x OTHER_NEEDLE y pod_needle z");
    for (const m of [before, after, before]) expect(fileMatches(reader.read(path.join(dir, "f"), 1 << 20)!, m)).toBe(true);
    writeFileSync(path.join(dir, "g"), "pod_needl other_needl");
    for (const m of [before, after]) expect(fileMatches(reader.read(path.join(dir, "g"), 1 << 20)!, m)).toBe(false);
  });
});

describe("a thread's drill of Node's file calls (drillReads)", () => {
  it("reads through a buffer that grows, then leaves the reader small and reading right", () => {
    const dir = mkdtempSync(path.join(tmpdir(), "pod-drill-reads-"));
    writeFileSync(path.join(dir, "small"), "small file");
    writeFileSync(path.join(dir, "big"), Buffer.alloc(3 << 20, "b"));
    const scanner = new Scanner();
    const reader = new FileReader(scanner);
    drillReads(reader, [path.join(dir, "small"), path.join(dir, "missing"), path.join(dir, "big")], 2200);
    // The drill grew the memory for the big file, and dropped it again (a fresh one is 1 MB at most).
    expect(scanner.capacity).toBeLessThan(1 << 20);
    expect(reader.read(path.join(dir, "small"), 1 << 20)?.toString()).toBe("small file");
    expect(reader.read(path.join(dir, "big"), 4 << 20)?.length).toBe(3 << 20);
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
