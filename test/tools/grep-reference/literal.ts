// Frozen reference (src/tools/grep/literal.ts at 17c7d02, before the three pattern readers shared one
// tokenizer): test/tools/grep-syntax.test.ts checks the present code against it. Not used by pod.
import { classEnd, escapeAt, toEngineSource } from "./syntax.js";

/**
 * A literal every match of a pattern contains, and where it sits in the pattern:
 * `pattern.slice(start, end)` is its source, `literal` the text it matches. Splitting
 * the pattern there gives before + literal + after, each a sequence of whole tokens.
 */
export interface LiteralSplit {
  literal: string;
  start: number;
  end: number;
}

const GROUP_HEAD = /^\(\?(?:<[A-Za-z_$][\w$]*>|<=|<!|[:=!])/;
const COUNTED = /^\{\d+(?:,\d*)?\}/;

/**
 * The longest run of plain characters that every match must contain, or undefined.
 * A run is made of literal characters at the top level (outside any group), none
 * of them quantified; a top-level alternation means there is none. Conservative:
 * anything it does not read exactly (a class, an escape other than an escaped
 * punctuation mark, an anchor, an astral character) ends a run.
 */
export function literalSplit(pattern: string): LiteralSplit | undefined {
  let best: LiteralSplit | undefined;
  let run = "";
  let runStart = 0;
  const close = (at: number) => {
    if (run && (!best || run.length > best.literal.length)) best = { literal: run, start: runStart, end: at };
    run = "";
  };
  let depth = 0;
  for (let i = 0; i < pattern.length; ) {
    const ch = pattern[i]!;
    if (ch === "(") {
      close(i);
      depth++;
      i += GROUP_HEAD.exec(pattern.slice(i))?.[0].length ?? 1;
      continue;
    }
    if (ch === ")") {
      close(i);
      depth = Math.max(0, depth - 1);
      i++;
      continue;
    }
    if (ch === "|" && depth === 0) return undefined;
    const quantifier = quantifierAt(pattern, i);
    if (quantifier) {
      close(i);
      i += quantifier;
      continue;
    }
    // One atom: what it spans, and the character it stands for if it is a plain one.
    let next = i + 1;
    let char: string | undefined;
    if (ch === "\\") {
      const esc = escapeAt(pattern, i);
      next = i + esc.length;
      if (esc.length === 2 && /[^\w\s]/.test(esc[1]!)) char = esc[1];
    } else if (ch === "[") next = classEnd(pattern, i);
    else if (!/[.^${}\]|\uD800-\uDFFF]/.test(ch)) char = ch;
    // A quantified character is not there exactly once: it ends the run before it.
    if (depth > 0 || char === undefined || quantifierAt(pattern, next)) close(i);
    else {
      if (!run) runStart = i;
      run += char;
    }
    i = next;
  }
  close(pattern.length);
  return best;
}

/** The literal alone (see literalSplit). */
export function requiredLiteral(pattern: string): string | undefined {
  return literalSplit(pattern)?.literal;
}

/** Length of the quantifier at pattern[i] (with its lazy "?"), or 0. */
function quantifierAt(pattern: string, i: number): number {
  const ch = pattern[i];
  let n = ch === "*" || ch === "+" || ch === "?" ? 1 : (COUNTED.exec(pattern.slice(i, i + 32))?.[0].length ?? 0);
  if (n && pattern[i + n] === "?") n++;
  return n;
}

/**
 * A sticky regex that, set at an occurrence of the literal, says whether a match of
 * the whole pattern holds that occurrence: `(?<=before)literal after`. V8's
 * lookbehind matches `before` backwards from the occurrence, so the cost is local
 * to it; run from a line's start, `\w+Sync\(` costs a backtracking attempt at every
 * position of a megabyte-long minified line, and this one attempt per `Sync(`.
 *
 * Line mode only (no part of the pattern can cross a newline, so the check stays
 * within the occurrence's line), and not with backreferences (a group of `before`
 * referred to from `after` would be matched in the other direction).
 */
export function anchoredCheck(pattern: string, split: LiteralSplit, flags: string): RegExp | undefined {
  if (/\\(?:[1-9]|k<)/.test(pattern)) return undefined;
  const before = toEngineSource(pattern.slice(0, split.start), false);
  const rest = toEngineSource(pattern.slice(split.start), false);
  if ("error" in before || "error" in rest) return undefined;
  try {
    return new RegExp(before.source ? `(?<=${before.source})${rest.source}` : rest.source, `${flags.replace("g", "")}y`);
  } catch {
    return undefined;
  }
}

/** Whether `line` (one line, decoded) holds a match: one anchored check at each occurrence of the literal. */
export function lineHoldsMatch(line: string, literal: string, anchored: RegExp): boolean {
  for (let at = line.indexOf(literal); at !== -1; at = line.indexOf(literal, at + 1)) {
    anchored.lastIndex = at;
    if (anchored.test(line)) return true;
  }
  return false;
}
