import { lstatSync } from "node:fs";
import { countMatchingLines, fileMatches, FileReader, type Literal, type Matcher } from "./matcher.js";

/** Files larger than this are skipped, as generated or data files rather than source. */
export const MAX_FILE_BYTES = 64 * 1024 * 1024;

export type GrepMode = "content" | "files_with_matches" | "count";

export interface FileHit {
  rel: string;
  lines: string[];
  count: number;
  /**
   * The file's link count, read by the worker (lstat) once it matched: a hit with one
   * link is no other name for a denied file, so the main thread checks only the rest
   * (ScopedFs.withoutLinkedDenied), not thousands of hits through the thread pool.
   */
  links?: number;
}

/**
 * A slice of the walk, as sent to a search worker: each file's path is `prefix + rel`,
 * absolute, or relative to the process's working directory when `prefix` is "". One array of strings, not two, halves the message (structured
 * cloning cost ~55 us per 64-file batch here, a measurable share on trees of small files).
 */
export interface FileBatch {
  prefix: string;
  rel: string[];
}

/** What every file of one Grep call is searched with; plain data, so it can cross to a worker. */
export interface SearchSpec {
  pattern: string;
  caseInsensitive: boolean;
  /** Matches may span lines (rg -U); otherwise line-oriented. */
  multiline: boolean;
  mode: GrepMode;
  context: number;
  /**
   * Larger files are skipped: MAX_FILE_BYTES for a call, less for the warm-up. Always
   * set, so that every spec a worker meets has one hidden class: a call's spec
   * without it, after warm-up specs with it, threw away the per-file path's
   * optimized code (matchFile, "wrong map") at the start of a user's first call.
   */
  maxBytes: number;
}

/**
 * A search nobody waits for (the warm-up, warm-up.ts): its batches take `specs` in
 * turn, it stops after `limit` files, keeps no thread alive, has no deadline, and a
 * stop lets its batches in flight finish rather than terminate the threads.
 */
export interface Background {
  specs: readonly SearchSpec[];
  limit: number;
  /** Files walked past before the first one searched (where the round before stopped). */
  skip?: number;
}

/**
 * Searches one batch synchronously, in the order given: a worker thread's job, and
 * only a worker's: the pattern is the model's, and a catastrophic one may run until
 * the pool terminates the thread (pool.ts).
 */
export function searchBatch(reader: FileReader, batch: FileBatch, m: Matcher, spec: SearchSpec, onHit?: (index: number, hit: FileHit) => void): FileHit[] {
  const hits: FileHit[] = [];
  for (let i = 0; i < batch.rel.length; i++) {
    const rel = batch.rel[i]!;
    const hit = searchFile(reader, batch.prefix + rel, rel, m, spec);
    if (hit) {
      hits.push(hit);
      onHit?.(i, hit);
    }
  }
  return hits;
}

export function searchFile(reader: FileReader, abs: string, rel: string, m: Matcher, spec: SearchSpec): FileHit | undefined {
  const hit = matchFile(reader, abs, rel, m, spec);
  if (hit) hit.links = lstatSync(abs, { throwIfNoEntry: false })?.nlink;
  return hit;
}

function matchFile(reader: FileReader, abs: string, rel: string, m: Matcher, spec: SearchSpec): FileHit | undefined {
  const bytes = reader.read(abs, spec.maxBytes);
  return bytes && matchBytes(bytes, rel, m, spec);
}

/** A file's hit from its bytes, in the spec's mode, or undefined if it has no match. */
export function matchBytes(bytes: Buffer, rel: string, m: Matcher, spec: SearchSpec): FileHit | undefined {
  if (!fileMatches(bytes, m)) return undefined;
  if (spec.mode === "files_with_matches") return { rel, lines: [], count: 1 };
  // A plain literal, counted: the lines holding it, found in the bytes without decoding.
  if (spec.mode === "count" && m.exact && !m.multiline) return { rel, lines: [], count: countLiteralLines(bytes, m.required!) };
  // Any line-mode pattern with a literal: counted in the bytes too, line by line (a minified bundle is never decoded whole).
  if (spec.mode === "count" && m.required && !m.multiline) return { rel, lines: [], count: countMatchingLines(bytes, m, m.latin1Safe ? "latin1" : "utf8") };
  const text = bytes.toString("utf8");
  const matched = matchedLines(text, m);
  if (spec.mode === "count") return { rel, lines: [], count: matched.length };

  // Only files whose lines are shown are split into lines.
  const all = text.split("\n");
  if (all.at(-1) === "") all.pop();
  const out: string[] = [];
  const isMatch = new Set(matched);
  const context = spec.context;
  let lastShown = -1;
  for (const n of matched) {
    const from = Math.max(0, n - context, lastShown + 1);
    const to = Math.min(all.length - 1, n + context);
    if (context > 0 && lastShown >= 0 && from > lastShown + 1) out.push("--");
    for (let i = from; i <= to; i++) {
      const line = all[i]!.replace(/\r$/, "");
      const sep = isMatch.has(i) ? ":" : "-";
      out.push(`${rel}${sep}${i + 1}${sep}${line.length > 500 ? line.slice(0, 500) + "…" : line}`);
    }
    lastShown = Math.max(lastShown, to);
  }
  return { rel, lines: out, count: matched.length };
}

/** How many lines hold the literal (a literal never holds a newline in line mode). */
function countLiteralLines(bytes: Buffer, lit: Literal): number {
  let count = 0;
  for (let from = 0; ; ) {
    const at = lit.finder.indexOf(bytes, from);
    if (at === -1) return count;
    count++;
    const nl = bytes.indexOf(10, at + lit.bytes.length);
    if (nl === -1) return count;
    from = nl + 1;
  }
}

/**
 * The 0-based numbers of the lines that hold a match, ascending, as rg prints them:
 * for a multiline match, every line it spans. One pass of the regex over the text;
 * once a line has matched, the search goes on from the next line.
 */
export function matchedLines(text: string, m: Matcher): number[] {
  if (m.anchored && m.required) return anchoredLines(text, m.required.text, m.anchored);
  const lines: number[] = [];
  const re = m.regex;
  let line = 0;
  let lineStart = 0; // where `line` starts; both only move forward
  const lineOf = (pos: number) => {
    for (let nl = text.indexOf("\n", lineStart); nl !== -1 && nl < pos; nl = text.indexOf("\n", lineStart)) {
      line++;
      lineStart = nl + 1;
    }
    return line;
  };
  // rg sees no line after a final "\n" (nor any in an empty file): an empty match there is not one.
  const end = text.length === 0 || text.endsWith("\n") ? text.length : text.length + 1;
  re.lastIndex = 0;
  for (let found = re.exec(text); found && found.index < end; found = re.exec(text)) {
    const start = found.index;
    const stop = start + found[0].length;
    const first = lineOf(start);
    const last = stop > start ? lineOf(stop - 1) : first;
    for (let l = first; l <= last; l++) if (!(lines.length && lines[lines.length - 1]! >= l)) lines.push(l);
    if (m.multiline) re.lastIndex = stop > start ? stop : start + 1;
    else {
      // Line-oriented: this line is decided, so go on from the next.
      const nl = text.indexOf("\n", start);
      if (nl === -1) break;
      re.lastIndex = nl + 1;
    }
  }
  return lines;
}

/**
 * matchedLines for a line-mode pattern with a required literal: only the literal's
 * occurrences are checked (literal.ts), and a line that has matched is not
 * looked at again.
 */
function anchoredLines(text: string, literal: string, anchored: RegExp): number[] {
  const lines: number[] = [];
  let line = 0;
  let lineStart = 0;
  for (let at = text.indexOf(literal); at !== -1; ) {
    for (let nl = text.indexOf("\n", lineStart); nl !== -1 && nl < at; nl = text.indexOf("\n", lineStart)) {
      line++;
      lineStart = nl + 1;
    }
    anchored.lastIndex = at;
    if (!anchored.test(text)) {
      at = text.indexOf(literal, at + 1);
      continue;
    }
    lines.push(line);
    const nl = text.indexOf("\n", at);
    if (nl === -1) break;
    at = text.indexOf(literal, nl + 1);
  }
  return lines;
}
