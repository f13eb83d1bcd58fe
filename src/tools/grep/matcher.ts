import { closeSync, constants, fstatSync, openSync, readSync } from "node:fs";
import { LiteralFinder, Scanner } from "./finder.js";
import { anchoredCheck, lineHoldsMatch, literalSplit } from "./literal.js";
import { reachOf, window, type Reach } from "./reach.js";
import { toEngineSource } from "./syntax.js";

export { requiredLiteral } from "./literal.js";

/**
 * The hot loop of Grep, kept free of per-file allocation: files are read with
 * synchronous calls into one reusable buffer (an async readFile costs several
 * thread-pool round trips per file, which dominates on trees of small files), a
 * literal that every match must contain is looked for in the raw bytes first, and
 * only files that can match are decoded. Callers run it in short slices so the
 * event loop stays responsive.
 */
export interface Matcher {
  /** The whole-text regex with ripgrep's line semantics (syntax.ts); flags include g. */
  regex: RegExp;
  /** Matches may span lines (rg -U). Otherwise every match lies within one line. */
  multiline: boolean;
  /** The pattern is a plain case-sensitive literal: finding `required` is finding a match. */
  exact: boolean;
  /** The same for a case-insensitive plain ASCII literal and `requiredAnyCase` (outside the Kelvin-sign/long-s case). */
  exactAnyCase: boolean;
  /** Bytes every match contains, if the pattern has such a literal; files without it are skipped undecoded. */
  required: Literal | undefined;
  /** The same for a case-insensitive pattern: a literal every match contains in some mix of case. */
  requiredAnyCase: LiteralFinder | undefined;
  /**
   * With `requiredAnyCase`: the longest run of its literal without a k or an s (the
   * literal itself if it has neither), which every match holds in some ASCII case
   * even where it writes k or s as the Kelvin sign or long s. Files without it are
   * rejected by one scan, before any other check.
   */
  foldFree: LiteralFinder | undefined;
  /**
   * Line mode, case-sensitive, with a required literal: set at an occurrence of the
   * literal (`required.text`), says whether a match holds it (literal.ts). Lines
   * are then checked at their occurrences only, never scanned whole by the regex.
   */
  anchored: RegExp | undefined;
  /** With `anchored`: how far a match can reach from the literal, so a long line is decoded only around each occurrence. */
  reach: Reach | undefined;
  /** latin1 decoding gives the same answer as UTF-8 for this pattern, and is cheaper. */
  latin1Safe: boolean;
  /**
   * Case-insensitive with a k, an s or a class (which may hold them): Unicode case folding (as in ripgrep) also matches
   * the Kelvin sign U+212A and long s U+017F, which latin1 decoding would hide. Such
   * files are found by the UTF-8 bytes of those two characters and decoded as UTF-8.
   */
  foldsBeyondLatin1: boolean;
}

/**
 * Compiles a pattern. Only compiles: V8 parses a regex here in linear time, and runs
 * it only in a Grep worker thread (pool.ts), never in pod's main thread.
 */
export function compileMatcher(pattern: string, caseInsensitive: boolean, multiline = false, scanner?: Scanner): Matcher | { error: string } {
  const engine = toEngineSource(pattern, multiline);
  if ("error" in engine) return engine;
  let regex: RegExp;
  try {
    regex = new RegExp(engine.source, caseInsensitive ? "giu" : "gu");
  } catch {
    try {
      regex = new RegExp(engine.source, caseInsensitive ? "gi" : "g");
    } catch (err) {
      return { error: (err as Error).message.replace(engine.source, pattern) };
    }
  }
  const split = literalSplit(pattern);
  const literal = split?.literal;
  const useful = literal !== undefined && literal.length >= 3;
  const anchored = useful && !caseInsensitive && !multiline ? anchoredCheck(pattern, split!, regex.flags) : undefined;
  const requiredAnyCase = useful && caseInsensitive ? LiteralFinder.create(literal, true, scanner) : undefined;
  return {
    regex,
    multiline,
    exact: !caseInsensitive && literal === pattern && !/[\\^$.*+?()[\]{}|]/.test(pattern),
    exactAnyCase: caseInsensitive && literal === pattern && !/[\\^$.*+?()[\]{}|]/.test(pattern) && /^[\x20-\x7e]+$/.test(pattern),
    required: useful && !caseInsensitive ? toLiteral(literal, scanner) : undefined,
    requiredAnyCase,
    foldFree: requiredAnyCase && foldFreeFinder(literal!, requiredAnyCase, scanner),
    anchored,
    reach: anchored ? reachOf(pattern, split!.start, split!.end, regex.flags) : undefined,
    latin1Safe: latin1Safe(pattern, caseInsensitive),
    foldsBeyondLatin1: caseInsensitive && /[ks[]/i.test(pattern),
  };
}

/**
 * Whether decoding the bytes as latin1 gives the same answer as UTF-8: an ASCII
 * pattern without a construct that matches a non-ASCII character (".", a negated
 * class or escape, \s, which holds U+00A0, itself a UTF-8 continuation byte in
 * latin1) matches the same bytes either way. \w, \d and \b are ASCII-only in
 * JavaScript, except \w and \b with the i and u flags (they fold ſ and the Kelvin sign).
 */
function latin1Safe(pattern: string, caseInsensitive: boolean): boolean {
  if (!/^[\x20-\x7e]*$/.test(pattern)) return false;
  if (/\.|\[\^|\\[WSDsuxcpP]/.test(pattern)) return false;
  return !(caseInsensitive && /\\[wbB]/.test(pattern));
}

const KELVIN_UTF8 = Buffer.from("\u212a");
const LONG_S_UTF8 = Buffer.from("\u017f");

/** Small, so the warm-up's files already take the grow path (a path V8 has not seen deoptimizes the reader). */
const INITIAL_BYTES = 64 * 1024;
/**
 * A worker keeps a buffer up to this size between batches: big files recur in a
 * tree (and in every search of it), and a regrown buffer is fresh memory, whose
 * page faults cost more than the read itself on this VM (~12 us per 4 KB page).
 */
const KEEP_BYTES = 32 * 1024 * 1024;

/**
 * Reads whole files into one growing buffer, with as few system calls as it can:
 * open, one read, close for any file smaller than the buffer (no fstat: it was a
 * fifth of the read cost on a tree of small files). A read that comes back short
 * is taken as the end of the file, which it is for regular files; a full buffer
 * is grown and read on until EOF. Not shared across concurrent users.
 *
 * The buffer is the scanner's memory (finder.ts), so the literal finders search a
 * file where it was read, without a copy.
 */
export class FileReader {
  constructor(private readonly scanner: Scanner = new Scanner()) {}

  /** Drops a memory grown past `keep` bytes for one big file, so a long-lived reader (a worker's) stays small. */
  shrink(keep = KEEP_BYTES): void {
    if (this.scanner.capacity > keep) this.scanner.reset();
  }

  /** The file's bytes (valid until the next read), or undefined if unreadable or larger than max. */
  read(file: string, max: number): Buffer | undefined {
    let fd: number;
    try {
      fd = openSync(file, constants.O_RDONLY);
    } catch {
      return undefined;
    }
    try {
      let buf = this.scanner.room(INITIAL_BYTES);
      let n = 0;
      for (;;) {
        const r = readSync(fd, buf, n, buf.length - n, null);
        n += r;
        if (n > max) return undefined;
        if (n < buf.length) break;
        // A file larger than the buffer: size it from fstat, so a 9 MB file costs one
        // grow, not five doublings (a quarter of a worker's time on node_modules).
        // Growing keeps the bytes read so far where they are.
        const size = fstatSync(fd).size;
        if (size > max) return undefined;
        buf = this.scanner.room(Math.max(size + 1, buf.length + 1));
      }
      return buf.subarray(0, n);
    } catch {
      return undefined;
    } finally {
      closeSync(fd);
    }
  }
}

/** A literal every match contains, as text and bytes, with its finder (finder.ts). */
export interface Literal {
  /** The literal as text (in latin1 decoding too: it comes from an ASCII-only pattern then). */
  text: string;
  bytes: Buffer;
  finder: LiteralFinder;
}

export function toLiteral(text: string, scanner?: Scanner): Literal {
  return { text, bytes: Buffer.from(text), finder: LiteralFinder.create(text, false, scanner)! };
}

/**
 * The longest run of a case-insensitive literal without k or s, if 3 characters or
 * more: the only ASCII letters with a fold beyond ASCII (the Kelvin sign, long s),
 * so any match holds this run in some ASCII case. `whole` if the literal has none.
 */
function foldFreeFinder(literal: string, whole: LiteralFinder, scanner: Scanner | undefined): LiteralFinder | undefined {
  const runs = literal.split(/[ks]/i);
  if (runs.length === 1) return whole;
  const longest = runs.reduce((a, b) => (b.length > a.length ? b : a));
  return longest.length >= 3 ? LiteralFinder.create(longest, true, scanner) : undefined;
}

const isBinary = (bytes: Buffer) => bytes.subarray(0, 8192).includes(0);

/**
 * Whether the file's bytes contain a match, deciding as cheaply as possible. Most
 * files lack the pattern's literal: they are rejected by one scan, before the binary
 * check (8 KB of every file it sees: 11 ms of a search of the Linux tree's 17k
 * files) and before the look for the Kelvin sign and long s (two scans of the whole
 * file: 16 ms).
 */
export function fileMatches(bytes: Buffer, m: Matcher): boolean {
  const lit = m.required;
  if (lit) {
    const first = lit.finder.indexOf(bytes, 0);
    if (first === -1 || isBinary(bytes)) return false;
    if (m.exact) return true;
    const encoding = m.latin1Safe ? "latin1" : "utf8";
    // Line-oriented: a match lies within one line and contains the literal, so only
    // the lines holding the literal need the regex (as in ripgrep). `\w+Sync\(` then
    // costs a byte search plus a few short lines instead of a regex over the file.
    if (!m.multiline) return countMatchingLines(bytes, m, encoding, 1, first) > 0;
    return hasMatch(bytes.toString(encoding), m.regex);
  }
  if (m.foldFree && !m.foldFree.includes(bytes)) return false;
  if (isBinary(bytes)) return false;
  // The two characters themselves, not just their lead bytes: any text with a "–" or
  // a "…" has an E2, and it sent whole files of Monaco through the regex (2.95× rg).
  const unicodeFolds = m.foldsBeyondLatin1 && (bytes.includes(KELVIN_UTF8) || bytes.includes(LONG_S_UTF8));
  // The any-case literal is ASCII, so it cannot see a Kelvin sign or long s: such files go to the regex.
  if (m.requiredAnyCase && !unicodeFolds) {
    // (Already found if it is the fold-free run.)
    if (m.foldFree !== m.requiredAnyCase && !m.requiredAnyCase.includes(bytes)) return false;
    // A plain literal found in some mix of case is a match: no decoding, no regex.
    if (m.exactAnyCase) return true;
  }
  const latin1 = m.latin1Safe && !unicodeFolds;
  return hasMatch(bytes.toString(latin1 ? "latin1" : "utf8"), m.regex);
}

/**
 * Whether the text has a match on one of its lines, as rg counts them: an empty file
 * has no line, and nothing follows a final "\n", so an empty match there (of `^` or
 * `x*`) is not one. exec finds the leftmost match, so if that is there, none is earlier.
 */
export function hasMatch(text: string, regex: RegExp): boolean {
  if (text.length === 0) return false;
  regex.lastIndex = 0;
  const found = regex.exec(text);
  return found !== null && (found.index < text.length || !text.endsWith("\n"));
}

/**
 * How many lines hold a match (counting stops at `limit`), for a line-mode pattern
 * with a case-sensitive required literal: only lines holding the literal are
 * decoded and checked, once each, and on a line over LONG_LINE only the stretch each
 * occurrence's match could reach. `searchFrom`: no occurrence lies before it.
 */
export function countMatchingLines(bytes: Buffer, m: Matcher, encoding: "latin1" | "utf8", limit = Infinity, searchFrom = 0): number {
  const lit = m.required!;
  let count = 0;
  for (let from = searchFrom; ; ) {
    const start = lit.finder.indexOf(bytes, from);
    if (start === -1) return count;
    const lineStart = start === 0 ? 0 : bytes.lastIndexOf(10, start - 1) + 1;
    let lineEnd = bytes.indexOf(10, start);
    if (lineEnd === -1) lineEnd = bytes.length;
    let matched: boolean;
    if (m.reach && lineEnd - lineStart > LONG_LINE) {
      matched = windowHoldsMatch(bytes, start, lineStart, lineEnd, m, encoding);
      if (!matched) {
        from = start + 1; // the next occurrence, on this line or a later one
        continue;
      }
    } else {
      const line = bytes.toString(encoding, lineStart, lineEnd);
      if (m.anchored) matched = lineHoldsMatch(line, lit.text, m.anchored);
      else {
        m.regex.lastIndex = 0;
        matched = m.regex.test(line);
      }
    }
    if (matched && ++count >= limit) return count;
    from = lineEnd + 1;
  }
}

/**
 * Lines longer than this are checked occurrence by occurrence, each in the stretch
 * its match could reach (reach.ts): a string this size is still allocated from
 * V8's young generation, a larger one gets fresh pages (and their faults).
 */
const LONG_LINE = 64 * 1024;

/** Whether a match holds the literal occurrence at `start`, decoding only what the match could reach. */
function windowHoldsMatch(bytes: Buffer, start: number, lineStart: number, lineEnd: number, m: Matcher, encoding: "latin1" | "utf8"): boolean {
  const lit = m.required!;
  const [from, to] = window(m.reach!, bytes, start, lit.bytes.length, lineStart, lineEnd);
  const head = bytes.toString(encoding, from, start);
  m.anchored!.lastIndex = head.length;
  return m.anchored!.test(head + bytes.toString(encoding, start, to));
}
