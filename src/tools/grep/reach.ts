import { tokenize, toEngineSource, type Token } from "./syntax.js";

/**
 * How far, in bytes, a line-mode match can reach from an occurrence of its required
 * literal: for `\w+Sync\(` back to the start of the word, for `err(or)?\s*=` forward
 * over "or", spaces and "=". Grep checks an occurrence in a megabyte-long minified
 * line by decoding just that stretch (plus one character each side, for `\b`, `^`
 * and `$`), instead of the whole line: on this machine a fresh string of several
 * megabytes costs tens of milliseconds in page faults alone.
 *
 * The bound is an over-estimate, never an under-estimate, so the check stays exact:
 * a repeated atom is bounded by the run of bytes it could consume at all, a group by
 * its furthest alternative. Patterns it does not read exactly (lookarounds) get no
 * reach, and the caller decodes the whole line.
 */
export interface Reach {
  /** The part of the pattern before the literal, in match order (scanned backwards). */
  before: Item[];
  /** The part after it. */
  after: Item[];
}

type Atom =
  | { kind: "set"; bytes: Uint8Array; nonAscii: boolean } // one character, from this set
  | { kind: "empty" } // zero-width: ^, $, \b, \B
  | { kind: "group"; alternatives: Item[][] };

interface Item {
  atom: Atom;
  /** Most repetitions; Infinity for *, + and {n,}. */
  max: number;
}

/** Repetitions past this are treated as unbounded (bounded by the run of bytes). */
const MAX_UNROLL = 16;

/** The reach of a line-mode, case-sensitive pattern split at its literal, or undefined. */
export function reachOf(pattern: string, start: number, end: number, flags: string): Reach | undefined {
  const before = sequenceOf(pattern.slice(0, start), flags);
  const after = sequenceOf(pattern.slice(end), flags);
  if (!before || !after) return undefined;
  return { before, after };
}

/** The items of a whole source (each side of the literal is whole tokens), or undefined. */
function sequenceOf(source: string, flags: string): Item[] | undefined {
  const tokens = tokenize(source);
  const seq = parseSequence(source, tokens, flags);
  return seq && seq.next === tokens.length ? seq.items : undefined;
}

/** The stretch [from, to) of `bytes` within [lineStart, lineEnd) that holds any match through the literal at [at, at + length). */
export function window(reach: Reach, bytes: Uint8Array, at: number, length: number, lineStart: number, lineEnd: number): [number, number] {
  let from = reachSequence(reach.before, bytes, at, lineStart, -1);
  let to = reachSequence(reach.after, bytes, at + length, lineEnd, 1);
  // One more character each side, for the assertions that look at it.
  if (from > lineStart) from--;
  while (from > lineStart && (bytes[from]! & 0xc0) === 0x80) from--;
  if (to < lineEnd) to++;
  while (to < lineEnd && (bytes[to]! & 0xc0) === 0x80) to++;
  return [from, to];
}

/** The furthest position a sequence can reach from `pos`, stepping by `dir` and never past `limit`. */
function reachSequence(items: Item[], bytes: Uint8Array, pos: number, limit: number, dir: 1 | -1): number {
  const order = dir === 1 ? items : [...items].reverse();
  for (const item of order) {
    pos = reachItem(item, bytes, pos, limit, dir);
    if (pos === limit) return limit;
  }
  return pos;
}

function reachItem(item: Item, bytes: Uint8Array, pos: number, limit: number, dir: 1 | -1): number {
  const { atom, max } = item;
  if (atom.kind === "empty" || max === 0) return pos;
  if (max === Infinity || max > MAX_UNROLL) {
    // Whatever the repetitions, they consume only bytes of the atom's alphabet.
    const set = alphabet(atom);
    while (pos !== limit && set[bytes[dir === 1 ? pos : pos - 1]!]) pos += dir;
    return pos;
  }
  for (let i = 0; i < max && pos !== limit; i++) {
    if (atom.kind === "set") pos = clamp(pos + dir * (atom.nonAscii ? 4 : 1), limit, dir);
    else {
      let furthest = pos;
      for (const alt of atom.alternatives) {
        const r = reachSequence(alt, bytes, pos, limit, dir);
        if (dir === 1 ? r > furthest : r < furthest) furthest = r;
      }
      pos = furthest;
    }
  }
  return pos;
}

function clamp(pos: number, limit: number, dir: 1 | -1): number {
  return dir === 1 ? Math.min(pos, limit) : Math.max(pos, limit);
}

/** Every byte a repetition of the atom could consume (a non-ASCII character: all of 0x80–0xff). */
function alphabet(atom: Atom): Uint8Array {
  if (atom.kind === "set") return atom.bytes;
  const set = new Uint8Array(256);
  if (atom.kind === "group") for (const alt of atom.alternatives) for (const item of alt) alphabet(item.atom).forEach((v, i) => (set[i] ||= v));
  return set;
}

/** Parses a sequence of tokens (up to an unmatched ")"), or undefined for what this does not read exactly. */
function parseSequence(source: string, tokens: Token[], flags: string, at = 0): { items: Item[]; next: number } | undefined {
  const alternatives: Item[][] = [[]];
  let k = at;
  while (k < tokens.length) {
    const t = tokens[k]!;
    if (t.kind === "close") break;
    if (t.kind === "alternation") {
      alternatives.push([]);
      k++;
      continue;
    }
    const text = source.slice(t.start, t.end);
    let atom: Atom;
    if (t.kind === "open") {
      // A lookaround may look anywhere.
      if (!(text === "(" || text === "(?:" || /^\(\?<[A-Za-z_$][\w$]*>$/.test(text))) return undefined;
      const inner = parseSequence(source, tokens, flags, k + 1);
      if (!inner || tokens[inner.next]?.kind !== "close") return undefined;
      atom = { kind: "group", alternatives: [inner.items] };
      // parseSequence folds an alternation into one group item; unwrap it.
      if (inner.items.length === 1 && inner.items[0]!.atom.kind === "group" && inner.items[0]!.max === 1) atom = inner.items[0]!.atom;
      k = inner.next + 1;
    } else if (t.kind === "quantifier") return undefined; // nothing to repeat: not a pattern V8 compiled
    else {
      if (text === "^" || text === "$" || text === "\\b" || text === "\\B") atom = { kind: "empty" };
      else {
        const set = charSet(text, flags);
        if (!set) return undefined;
        atom = set;
      }
      k++;
    }
    let max = 1;
    const q = tokens[k];
    if (q?.kind === "quantifier") {
      max = q.max!;
      k++;
    }
    alternatives[alternatives.length - 1]!.push({ atom, max });
  }
  const items = alternatives.length === 1 ? alternatives[0]! : [{ atom: { kind: "group", alternatives } as Atom, max: 1 }];
  return { items, next: k };
}

/** The bytes one character matched by this token can hold, or undefined if it is not a one-character token. */
function charSet(token: string, flags: string): Extract<Atom, { kind: "set" }> | undefined {
  if (/^\\(?:\d|k<|c$)/.test(token)) return undefined; // a backreference
  const engine = toEngineSource(token, false);
  if ("error" in engine) return undefined;
  let re: RegExp;
  try {
    re = new RegExp(`^(?:${engine.source})$`, flags.replace(/[gy]/g, ""));
  } catch {
    return undefined;
  }
  const bytes = new Uint8Array(256);
  for (let c = 0; c < 128; c++) bytes[c] = re.test(String.fromCharCode(c)) ? 1 : 0;
  // Whether it may match a character beyond ASCII: then any byte 0x80-0xff may be part of one.
  const nonAscii = token === "." || /[^\x00-\x7f]|\[\^|\\[WSDsuxpPc]/.test(token);
  if (nonAscii) bytes.fill(1, 128);
  return { kind: "set", bytes, nonAscii };
}
