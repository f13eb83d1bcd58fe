import { tokenize, toEngineSource } from "./syntax.js";

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
  const tokens = tokenize(pattern);
  for (let k = 0; k < tokens.length; k++) {
    const t = tokens[k]!;
    if (t.kind === "open") {
      close(t.start);
      depth++;
    } else if (t.kind === "close") {
      close(t.start);
      depth = Math.max(0, depth - 1);
    } else if (t.kind === "alternation" && depth === 0) return undefined;
    else if (t.kind === "quantifier" || t.kind === "alternation") close(t.start);
    else {
      // One atom, and the character it stands for if it is a plain one.
      let char: string | undefined;
      if (t.kind === "escape") {
        if (t.end - t.start === 2 && /[^\w\s]/.test(pattern[t.start + 1]!)) char = pattern[t.start + 1];
      } else if (t.kind === "char" && !/[.^${}\]\uD800-\uDFFF]/.test(pattern[t.start]!)) char = pattern[t.start];
      // A quantified character is not there exactly once: it ends the run before it.
      if (depth > 0 || char === undefined || tokens[k + 1]?.kind === "quantifier") close(t.start);
      else {
        if (!run) runStart = t.start;
        run += char;
      }
    }
  }
  close(pattern.length);
  return best;
}

/** The literal alone (see literalSplit). */
export function requiredLiteral(pattern: string): string | undefined {
  return literalSplit(pattern)?.literal;
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
