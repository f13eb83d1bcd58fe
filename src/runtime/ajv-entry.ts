// ajv, for --output-schema only: bundled on its own as dist/commands/ext/ajv.cjs
// (scripts/build.mjs), so a run without a schema does not parse its ~155 KB.
// re2js (MIT, pure JavaScript, ~260 KB unminified) rides in the same bundle: it is the
// regex engine ajv uses for `pattern` and `patternProperties` (linearRegExp below).
import { RE2JS } from "re2js";

export { Ajv } from "ajv";
export { Ajv2020 } from "ajv/dist/2020.js";

/** A schema pattern RE2 cannot run (lookaround, backreferences): the schema is refused at load. */
export class UnsupportedPattern extends Error {}

/**
 * ajv's `code.regExp` engine: RE2 (linear time in the input, whatever the pattern), so a
 * crafted final answer cannot make `(a+)+$` backtrack for hours on pod's main thread.
 * ajv calls it once per pattern at compile time and then only `.test()` (an unanchored
 * search, as JSON Schema's `pattern` is). ECMAScript syntax RE2 spells differently is
 * translated first (`\uXXXX`, `\u{…}`, `\s`); what RE2 has no equivalent for is refused.
 */
export function linearRegExp(pattern: string, _flags: string): { test(s: string): boolean; toString(): string } {
  let re: RE2JS;
  try {
    re = RE2JS.compile(ecmaToRe2(pattern));
  } catch (err) {
    throw new UnsupportedPattern(`the pattern ${JSON.stringify(pattern)} is not supported by pod's linear-time regex engine (${(err as Error).message})`);
  }
  // ajv keys its cache of compiled patterns by toString(): it must differ per pattern
  // (a plain object's "[object Object]" made every pattern the first one compiled).
  const key = `/${pattern}/${_flags}`;
  return { test: (s: string) => re.test(s), toString: () => key };
}
linearRegExp.code = "linearRegExp";

/** ECMAScript's whitespace class, which RE2's `\s` (ASCII only) is narrower than. */
const ES_SPACE = "\\t\\n\\x{0B}\\f\\r \\x{A0}\\x{1680}\\x{2000}-\\x{200A}\\x{2028}\\x{2029}\\x{202F}\\x{205F}\\x{3000}\\x{FEFF}";

export function ecmaToRe2(pattern: string): string {
  let out = "";
  let inClass = false;
  for (let i = 0; i < pattern.length; i++) {
    const c = pattern[i]!;
    if (c === "\\" && i + 1 < pattern.length) {
      const n = pattern[i + 1]!;
      const braced = /^u\{([0-9a-fA-F]{1,6})\}/.exec(pattern.slice(i + 1));
      const four = /^u([0-9a-fA-F]{4})/.exec(pattern.slice(i + 1));
      if (braced) {
        out += `\\x{${braced[1]}}`;
        i += braced[0].length;
      } else if (four) {
        out += `\\x{${four[1]}}`;
        i += 5;
      } else if (n === "s") {
        out += inClass ? ES_SPACE : `[${ES_SPACE}]`;
        i++;
      } else if (n === "S" && !inClass) {
        out += `[^${ES_SPACE}]`;
        i++;
      } else {
        out += c + n;
        i++;
      }
      continue;
    }
    if (c === "[" && !inClass) {
      inClass = true;
      // `[^]` (any character) is ECMAScript only.
      if (pattern.startsWith("[^]", i)) {
        out += "[\\x{0}-\\x{10FFFF}]";
        i += 2;
        inClass = false;
        continue;
      }
    } else if (c === "]" && inClass) inClass = false;
    out += c;
  }
  return out;
}
