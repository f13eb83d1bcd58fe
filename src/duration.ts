/**
 * Durations as people write them, for `--timeout` and `[pod] timeout` alike (one rule
 * for both, so a value means the same in either place): one or more number+unit parts
 * (`90s`, `10m`, `1h30m`, `1.5h`, `500ms`, `2h 15m`), or a bare number, which is
 * seconds (`90`, as `--timeout 90` and `timeout = 90` in pod.toml). Pure: no I/O, no
 * imports, so the manifest and the command line can both use it.
 */
const UNIT_MS: Record<string, number> = { ms: 1, s: 1000, m: 60_000, h: 3_600_000 };

const PART = /(\d+(?:\.\d+)?)\s*(ms|s|m|h)/y;

/** Milliseconds, or undefined when `text` is not a duration greater than zero. */
export function durationMs(text: string | number): number | undefined {
  if (typeof text === "number") return Number.isFinite(text) && text > 0 ? text * 1000 : undefined;
  const s = text.trim();
  if (/^\d+(?:\.\d+)?$/.test(s)) {
    const ms = Number(s) * 1000;
    return ms > 0 ? ms : undefined;
  }
  let total = 0;
  let at = 0;
  const seen = new Set<string>();
  while (at < s.length) {
    PART.lastIndex = at;
    const m = PART.exec(s);
    // Each unit once: "1m1m" is a typo, not 2 minutes.
    if (!m || seen.has(m[2]!)) return undefined;
    seen.add(m[2]!);
    total += Number(m[1]) * UNIT_MS[m[2]!]!;
    at = PART.lastIndex;
    while (s[at] === " ") at++;
  }
  return at > 0 && total > 0 && Number.isFinite(total) ? Math.round(total) : undefined;
}

/** What a valid duration looks like, for error messages. */
export const DURATION_EXAMPLES = 'like "90s", "10m", "1h30m" or "500ms" (a bare number is seconds)';
