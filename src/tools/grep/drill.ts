// A worker thread's own warm-up, on made-up text: every path a file can take
// through a search (search.ts, matcher.ts, reach.ts), run until V8 has optimized it.
//
// The warm-up on the tree (warm-up.ts) reaches only what the tree's first files
// hold: on C, no line long enough to be checked in part; on any tree, no pattern
// with a group after its literal or a word before it. Each path a user's first call
// took for the first time threw away the optimized code around it and compiled it
// again, in both threads, on the cores the search needs (deps, `err(or)?\s*=`: up
// to ~180 ms of V8's compiler in the first call). The drill runs as the thread
// starts, while the first model request is in flight.
import { lstatSync } from "node:fs";
import type { Scanner } from "./finder.js";
import { compileMatcher, type FileReader, type Matcher } from "./matcher.js";
import { matchBytes, MAX_FILE_BYTES, type GrepMode, type SearchSpec } from "./search.js";

/** Patterns of each kind a Matcher has: a plain literal, reach before and after it, groups, any case, none, multiline. */
const PATTERNS: ReadonlyArray<{ pattern: string; caseInsensitive: boolean; multiline: boolean }> = [
  { pattern: "returnValue", caseInsensitive: false, multiline: false },
  { pattern: "\\w+Sync\\(", caseInsensitive: false, multiline: false },
  { pattern: "err(or)?\\s*=", caseInsensitive: false, multiline: false },
  { pattern: "(\\w+|[);{}])\\s*return\\b(\\s+\\w+|;)?", caseInsensitive: false, multiline: false },
  { pattern: "import\\s+\\{[^}]*\\}\\s+from", caseInsensitive: false, multiline: false },
  { pattern: "deprecated", caseInsensitive: true, multiline: false },
  { pattern: "xmlhttprequest", caseInsensitive: true, multiline: false },
  { pattern: "todo:?\\s+\\w+", caseInsensitive: true, multiline: false },
  { pattern: "^\\s*#\\s*[a-z]+", caseInsensitive: false, multiline: false },
  { pattern: "\\{\\s*\\n\\s*return", caseInsensitive: false, multiline: true },
];
const MODES: readonly GrepMode[] = ["files_with_matches", "count", "content"];

/** Lines of code-like text, each holding some pattern's literal, or none. */
const LINES = [
  "const x = readFileSync(path);",
  "  return returnValue;",
  "if (err) return;",
  "error = undefined;",
  "err=1;",
  "import { a, b } from 'c';",
  "import {",
  "// TODO: fix this, Deprecated since 2.0",
  "#include <stdio.h>",
  "  # define WIDTH 80",
  "var r = new XMLHttpRequest();",
  "function f() {",
  "  return 1;",
  "}",
  "static int café(void) { return -1; }",
  "plain words and nothing else",
  "",
];

/** Made-up files: short ones of shuffled lines, one with a line over 64 KB (checked in part), one binary. */
function files(): Buffer[] {
  let seed = 7;
  const rnd = (n: number) => ((seed = (seed * 1103515245 + 12345) >>> 0) >>> 16) % n;
  const out: Buffer[] = [];
  for (let f = 0; f < 12; f++) {
    const lines = Array.from({ length: 8 + rnd(40) }, () => LINES[rnd(f % 4 === 0 ? 4 : LINES.length)]!);
    out.push(Buffer.from(lines.join("\n") + (rnd(2) ? "\n" : "")));
  }
  // (~70 KB: a line over LONG_LINE, 64 KB, is checked occurrence by occurrence.)
  const minified = Array.from({ length: 3500 }, (_, i) => LINES[i % LINES.length]!.trim()).join(";");
  out.push(Buffer.from(`/* bundle */\n${minified}\n`));
  // A long line of near misses: each pattern's literal with no match around it, as
  // in minified code, where every occurrence is checked in its own window (reach.ts).
  // Traced on a real tree, those checks became hot only in a user's first call.
  const misses = Array.from({ length: 160 }, (_, i) => `if (err) ${i % 2 ? "x Sync(a)" : "import x"}; y.returned;${"{a+b}*c-d/e%f".repeat(30)}`).join(";");
  out.push(Buffer.from(`${misses}\n`));
  out.push(Buffer.from("\x7fELF\0\0returnValue err = 1\n"));
  return out;
}

/**
 * The drill of one thread, `rounds` times every pattern over every file, in turn
 * through the modes. Files are placed in the scanner's memory, as FileReader places
 * a file read from disk, so the finders take the same path.
 */
export function drill(scanner: Scanner, rounds = DRILL_ROUNDS): void {
  const texts = files();
  const matchers = PATTERNS.map((p) => compileMatcher(p.pattern, p.caseInsensitive, p.multiline, scanner) as Matcher);
  for (let round = 0; round < rounds; round++) {
    for (let p = 0; p < matchers.length; p++) {
      // Cloned, as a batch's spec arrives (postMessage): an object literal has another
      // hidden class, and code optimized for it alone deoptimized on the real one.
      const spec: SearchSpec = structuredClone({ ...PATTERNS[p]!, mode: MODES[(p + round) % MODES.length]!, context: round % 2, maxBytes: round % 3 ? MAX_FILE_BYTES : 1 << 20 });
      for (const text of texts) {
        const bytes = scanner.room(text.length).subarray(0, text.length);
        bytes.set(text);
        matchBytes(bytes, "drill", matchers[p]!, spec);
      }
    }
  }
}

/**
 * Rounds of the drill. V8 optimizes a function once it has run enough (its bytecode
 * times its calls): measured with --trace-opt, every function of the per-file path
 * was optimized by the 25th round, and none deoptimized after the first. The whole
 * drill takes ~120 ms of a thread as it starts (the first rounds, not yet
 * optimized, most of it), while the first model request is in flight.
 */
export const DRILL_ROUNDS = 30;

/**
 * Node's own file calls, as a search makes them for each file (FileReader.read's
 * openSync, readSync and closeSync; searchFile's lstatSync for a hit), on real
 * files, `times` times. V8 optimizes Node's wrappers of them (path and flag checks,
 * the Stats object) only after thousands of calls, more than the warm-up's files
 * give a thread: traced on the Linux tree (--trace-opt), TurboFan compiled them
 * during a user's first call, in every worker. `files[0]` is read each time (a
 * small cached file: a few microseconds); the others, larger than a fresh read
 * buffer, now and then into a fresh one, so that the optimized reader has seen its
 * buffer grow: traced, the first file over the buffer in a user's first call
 * deoptimized it ("insufficient type feedback" for the fstat). Not the first
 * reads: V8 records no feedback until a function has run a few times.
 */
export function drillReads(reader: FileReader, files: readonly string[], times = DRILL_READS): void {
  if (files.length === 0) return;
  for (let i = 0; i < times; i++) {
    let file = files[0]!;
    if (i % 1000 === 100 && files.length > 1) {
      file = files[1 + (Math.floor(i / 1000) % (files.length - 1))]!;
      reader.shrink(0);
    }
    reader.read(file, MAX_FILE_BYTES);
    lstatSync(file, { throwIfNoEntry: false });
  }
  reader.shrink(0);
}

export const DRILL_READS = 3000;
