import { realpath } from "node:fs/promises";
import path from "node:path";
import picomatch from "picomatch";

/** Case- and Unicode-form-insensitive form of a path, for matching protected paths. */
export function fold(p: string): string {
  return p.normalize("NFC").toLowerCase();
}

/** Whether `p` is `base` or below it (both absolute or both root-relative, same folding). */
export function under(base: string, p: string): boolean {
  return p === base || (p.startsWith(base) && (p[base.length] === "/" || base.endsWith("/")));
}

/** Whether `p` is `root` or inside it (both absolute, resolved). */
export function isInside(root: string, p: string): boolean {
  const rel = path.relative(root, p);
  return rel === "" || (!rel.startsWith("..") && !path.isAbsolute(rel));
}

/**
 * Globs with .gitignore's anchoring: a pattern without a slash matches at any
 * depth (".env*" also hides "config/.env.local"); one with a slash is relative to the root.
 */
export function globMatcher(patterns: readonly string[], opts: { nocase?: boolean } = {}): (rel: string) => boolean {
  const anchored = patterns.map((p) => (p.includes("/") ? p.replace(/^\//, "") : `**/${p}`));
  return picomatch(anchored, { dot: true, nocase: opts.nocase ?? false });
}

/**
 * The real path of `p`, or — if it does not exist yet (a runtime dir or a .git not
 * created) — the real path of its nearest existing ancestor with the rest appended,
 * so it compares equal to the boundary's resolved paths even under a symlinked
 * ancestor (macOS's /var → /private/var).
 */
export async function realOrPlanned(p: string): Promise<string> {
  const abs = path.resolve(p);
  const rest: string[] = [];
  for (let cur = abs; ; cur = path.dirname(cur)) {
    try {
      return path.join(await realpath(cur), ...rest);
    } catch {
      if (path.dirname(cur) === cur) return abs;
      rest.unshift(path.basename(cur));
    }
  }
}

/** The directories strictly between `root` and `p` ("/r", "/r/a/b/c" → ["/r/a", "/r/a/b"]). */
export function dirsBetween(root: string, p: string): string[] {
  const rel = path.relative(root, p);
  if (rel === "" || rel.startsWith("..") || path.isAbsolute(rel)) return [];
  const parts = rel.split(path.sep);
  return parts.slice(0, -1).map((_, i) => path.join(root, ...parts.slice(0, i + 1)));
}
