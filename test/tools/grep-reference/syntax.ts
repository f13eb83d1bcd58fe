// Frozen reference (src/tools/grep/syntax.ts at 17c7d02, before the three pattern readers shared one
// tokenizer): test/tools/grep-syntax.test.ts checks the present code against it. Not used by pod.
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
  for (let i = 0; i < pattern.length; ) {
    const ch = pattern[i]!;
    if (ch === "\\") {
      const esc = escapeAt(pattern, i);
      if (!multiline && isNewlineEscape(esc)) return { error: NEWLINE_ERROR };
      out += multiline ? esc : lineEscape(esc);
      i += esc.length;
    } else if (ch === "[") {
      const end = classEnd(pattern, i);
      const cls = pattern.slice(i, end);
      if (multiline) out += cls;
      else {
        const body = cls.slice(1, -1);
        if (cls.startsWith("[^")) out += `[^${body.slice(1)}\\n]`;
        else if (classMayHoldNewline(body)) {
          if (/^(?:\\n|\\x0a|\\u000a|\\cJ)$/i.test(body)) return { error: NEWLINE_ERROR };
          out += `(?:(?!\\n)${cls})`;
        } else out += cls;
      }
      i = end;
    } else if (ch === "(" && pattern[i + 1] === "?") {
      // Group syntax ((?:, (?=, (?<name>…) is copied whole so its "?" is not read as a quantifier.
      const m = /^\(\?(?:<[A-Za-z_$][\w$]*>|<=|<!|[:=!])/.exec(pattern.slice(i));
      const head = m ? m[0] : "(?";
      out += head;
      i += head.length;
    } else if (ch === "{") {
      // A counted quantifier ({2}, {1,3}) is copied whole; a lone "{" is a literal.
      const m = /^\{\d+(?:,\d*)?\}/.exec(pattern.slice(i));
      const head = m ? m[0] : "{";
      out += head;
      i += head.length;
    } else {
      out += ch === "." ? "[^\\n]" : ch === "^" ? "(?<![^\\n])" : ch === "$" ? "(?![^\\n])" : ch;
      i++;
    }
  }
  return { source: out };
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
