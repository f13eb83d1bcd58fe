import path from "node:path";
import { realpathSync } from "node:fs";
import type { Manifest } from "../manifest.js";
import { globMatcher } from "../tools/scoped-fs.js";

/**
 * Where a trusted input may come from. The workspace (the scope root, or the manifest's
 * directory without a scope) is what the model can write: a trusted file named inside it
 * must resolve inside it, and not to a denied (`[scope] deny`) or hidden (the runtime
 * directory) file — so `AGENTS.md -> .env` or `CLAUDE.md -> /outside/creds` is refused.
 * A file the operator named outside the workspace is the operator's, links and all.
 */
export interface TrustBoundary {
  /** Real path of the workspace root. */
  root: string;
  /** The same root as the manifest spells it (symlinks not resolved), for lexical checks. */
  lexicalRoot: string;
  /** Real paths nothing trusted may resolve into: the runtime directory. */
  hidden: string[];
  /** `[scope] deny`, on paths relative to the root. */
  isDenied(rel: string): boolean;
}

export function trustBoundary(manifest: Pick<Manifest, "file" | "scopeRoot" | "data">, runtimeDir: string): TrustBoundary {
  const manifestDir = path.dirname(manifest.file);
  const lexicalRoot = manifest.data.scope ? path.resolve(manifestDir, manifest.data.scope.root) : manifestDir;
  const root = manifest.scopeRoot ?? realOr(manifestDir);
  const deny = manifest.data.scope?.deny ?? [];
  const denied = deny.length === 0 ? () => false : globMatcher(deny, { nocase: true });
  return { root, lexicalRoot, hidden: [realOr(runtimeDir)], isDenied: (rel) => rel !== "" && (denied(rel) || ancestors(rel).some(denied)) };
}

/**
 * Why a trusted file at `lexical` (as named) that resolved to `real` must not be used, or
 * undefined when it may. `shown` names it in the message.
 */
export function boundaryRefusal(b: TrustBoundary, lexical: string, real: string, shown: string): string | undefined {
  if (b.hidden.some((h) => isInside(h, real))) return `${shown} leads into pod's runtime directory (${real})`;
  const named = isInside(b.root, lexical) || isInside(b.lexicalRoot, lexical);
  if (named && !isInside(b.root, real)) return `${shown} is a link that leads out of the workspace (to ${real})`;
  if (isInside(b.root, real)) {
    const rel = path.relative(b.root, real).split(path.sep).join("/");
    if (b.isDenied(rel)) return `${shown} leads to ${rel}, which [scope] deny hides`;
  }
  for (const root of [b.root, b.lexicalRoot]) {
    if (!isInside(root, lexical)) continue;
    const rel = path.relative(root, lexical).split(path.sep).join("/");
    if (b.isDenied(rel)) return `${shown} is hidden by [scope] deny`;
  }
  return undefined;
}

export function isInside(root: string, p: string): boolean {
  const rel = path.relative(root, p);
  return rel === "" || (!rel.startsWith("..") && !path.isAbsolute(rel));
}

/** The real path of `p`, or of its nearest existing ancestor with the rest appended (a runtime dir not made yet). */
function realOr(p: string): string {
  const rest: string[] = [];
  for (let cur = path.resolve(p); ; cur = path.dirname(cur)) {
    try {
      return path.join(realpathSync.native(cur), ...rest);
    } catch {
      if (path.dirname(cur) === cur) return path.resolve(p);
      rest.unshift(path.basename(cur));
    }
  }
}

/** "a/b/c" → ["a", "a/b"]: a denied directory hides everything below it. */
function ancestors(rel: string): string[] {
  const parts = rel.split("/");
  return parts.slice(1).map((_, i) => parts.slice(0, i + 1).join("/"));
}
