/**
 * ripgrep's line semantics for a JavaScript regex. Grep is line-oriented, as rg is
 * without -U: no match may contain a newline, so `import\s+\{[^}]*\}` cannot run
 * from one line into the next. JavaScript has no such mode, so the pattern is
 * rewritten so that no part of it can match "\n":
 *
 * - `\s`, `\W`, `\D` become `[^\S\n]`, `[^\w\n]`, `[^\d\n]`; `[^…]` becomes `[^…\n]`;
 *   a class or property escape that may hold a newline is guarded by `(?!\n)`;
 * - a literal newline (`\n`, `\x0a`, `\u000a`, `\cJ`) is refused with the hint rg
 *   gives: use multiline.
 *
 * In both modes, as in rg: `.` is any character but "\n" (JavaScript's also
 * excludes \r, U+2028 and U+2029), `^` and `$` are line anchors at "\n" only
 * (JavaScript's m flag also stops at \r, so `foo$` would match "foo\r\n").
 */
export function toEngineSource(pattern: string, multiline: boolean): { source: string } | { error: string } {
  if (!multiline && pattern.includes("\n")) return { error: NEWLINE_ERROR };
  let out = "";
  for (const t of tokenize(pattern)) {
    const text = pattern.slice(t.start, t.end);
    if (t.kind === "escape") {
      if (!multiline && isNewlineEscape(text)) return { error: NEWLINE_ERROR };
      out += multiline ? text : lineEscape(text);
    } else if (t.kind === "class") {
      if (multiline) out += text;
      else {
        const body = text.slice(1, -1);
        if (text.startsWith("[^")) out += `[^${body.slice(1)}\\n]`;
        else if (classMayHoldNewline(body)) {
          if (/^(?:\\n|\\x0a|\\u000a|\\cJ)$/i.test(body)) return { error: NEWLINE_ERROR };
          out += `(?:(?!\\n)${text})`;
        } else out += text;
      }
    } else if (t.kind === "char") out += text === "." ? "[^\\n]" : text === "^" ? "(?<![^\\n])" : text === "$" ? "(?![^\\n])" : text;
    // Group heads ("(?:", "(?<name>"…) and quantifiers ("{2}", "*?") are copied whole.
    else out += text;
  }
  return { source: out };
}

/**
 * One token of a pattern, [start, end) in it. The three readers of a pattern (the
 * line-semantics rewrite above, the required literal in literal.ts, the reach in
 * reach.ts) all read it through tokenize(), so they agree on where an escape, a
 * class, a group head or a quantifier ends.
 */
export interface Token {
  kind:
    | "escape" // \x41, \d, \k<n>, \., \1: whole (escapeAt)
    | "class" // [...] whole (an unclosed one runs to the end)
    | "open" // "(", "(?:", "(?<name>", "(?=", "(?!", "(?<=", "(?<!"; "(?" for anything else
    | "close"
    | "alternation"
    | "quantifier" // *, +, ?, {n}, {n,}, {n,m}, each with its lazy "?"
    | "char"; // one character (an astral one is two code units), "." "^" "$" included
  start: number;
  end: number;
  /** For a quantifier: the most repetitions it allows (Infinity for *, + and {n,}). */
  max?: number;
}

const GROUP_HEAD = /\(\?(?:<[A-Za-z_$][\w$]*>|<=|<!|[:=!])/y;
/** Read within 32 characters: a longer run of digits is no quantifier anyone writes. */
const COUNTED = /^\{(\d+)(?:(,)(\d*))?\}/;

function groupHead(pattern: string, i: number): number {
  GROUP_HEAD.lastIndex = i;
  return GROUP_HEAD.exec(pattern)?.[0].length ?? 2;
}

/** The pattern's tokens, in order; every character belongs to exactly one. */
export function tokenize(pattern: string): Token[] {
  const tokens: Token[] = [];
  for (let i = 0; i < pattern.length; ) {
    const ch = pattern[i]!;
    let kind: Token["kind"];
    let end: number;
    let max: number | undefined;
    if (ch === "\\") {
      kind = "escape";
      end = i + escapeAt(pattern, i).length;
    } else if (ch === "[") {
      kind = "class";
      end = classEnd(pattern, i);
    } else if (ch === "(") {
      kind = "open";
      end = i + (pattern[i + 1] === "?" ? groupHead(pattern, i) : 1);
    } else if (ch === ")") {
      kind = "close";
      end = i + 1;
    } else if (ch === "|") {
      kind = "alternation";
      end = i + 1;
    } else if (ch === "*" || ch === "+" || ch === "?") {
      kind = "quantifier";
      end = i + 1;
      max = ch === "?" ? 1 : Infinity;
    } else {
      // A counted quantifier ({2}, {1,3}, {2,}); a "{" that starts none is a character.
      const counted = ch === "{" ? COUNTED.exec(pattern.slice(i, i + 32)) : null;
      if (counted) {
        kind = "quantifier";
        end = i + counted[0].length;
        max = counted[2] ? (counted[3] ? Number(counted[3]) : Infinity) : Number(counted[1]);
      } else {
        kind = "char";
        end = i + (pattern.codePointAt(i)! > 0xffff ? 2 : 1);
      }
    }
    // A quantifier's lazy "?" is part of it.
    if (kind === "quantifier" && pattern[end] === "?") end++;
    tokens.push(max === undefined ? { kind, start: i, end } : { kind, start: i, end, max });
    i = end;
  }
  return tokens;
}

const NEWLINE_ERROR = 'the pattern contains a literal newline ("\\n"), which line-oriented search never matches. Set multiline: true to match across lines.';

/** The escape sequence starting at pattern[i] (a backslash), whole: `\x41`, `\u{1F600}`, `\p{L}`, `\k<n>`, `\cJ`. */
export function escapeAt(pattern: string, i: number): string {
  const rest = pattern.slice(i);
  const m = /^\\(?:x[0-9a-fA-F]{2}|u\{[0-9a-fA-F]+\}|u[0-9a-fA-F]{4}|[pP]\{[^}]*\}|k<[^>]*>|c[A-Za-z]|\d+|[\s\S]?)/.exec(rest);
  return m![0];
}

function isNewlineEscape(esc: string): boolean {
  return /^\\(?:n|x0a|u000a|u\{0*a\}|cj)$/i.test(esc);
}

function lineEscape(esc: string): string {
  switch (esc) {
    case "\\s":
      return "[^\\S\\n]";
    case "\\W":
      return "[^\\w\\n]";
    case "\\D":
      return "[^\\d\\n]";
  }
  // A property escape may include "\n" (\P{L}, \p{Cc}, \p{White_Space}).
  if (/^\\[pP]\{/.test(esc)) return `(?:(?!\\n)${esc})`;
  return esc;
}

/** Index just past the class starting at pattern[i] ("["); an unclosed class runs to the end (the regex compiler reports it). */
export function classEnd(pattern: string, i: number): number {
  let j = i + 1;
  if (pattern[j] === "^") j++;
  for (; j < pattern.length; j++) {
    if (pattern[j] === "\\") j++;
    else if (pattern[j] === "]") return j + 1;
  }
  return pattern.length;
}

/** Whether a positive class body may hold "\n": an escape that can, or a range from a control character. */
function classMayHoldNewline(body: string): boolean {
  if (/\\(?:[sWDpPnxuc0]|\d)/.test(body)) return true;
  if (/[\0-\n]/.test(body)) return true;
  return false;
}
