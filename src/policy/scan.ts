import type { Dirent } from "node:fs";
import { readdir } from "node:fs/promises";

export interface Entry {
  path: string;
  dir: boolean;
}

export interface ScopeScan {
  /** Existing paths `deny` matches (a denied directory whole, not entered). */
  denied: Entry[];
  /** Every `.git` below the root (the root's own too): directories and gitfiles. */
  gits: Entry[];
  /** Unix sockets in the scope: whatever listens on one would answer a sandboxed connect(). */
  sockets: string[];
}

/**
 * The one walk of the scope the sandbox's view needs: what `deny` matches, every
 * `.git` at any depth, and the sockets. The whole tree is walked, .gitignore'd parts
 * too (an ignored `.env` is exactly what deny is for), with names and types only (no
 * stat). Symlinks are not followed (a link is never masked: that would mask its
 * target; a target inside the root is met on its own). Not entered: a denied or
 * hidden directory (masked whole) and `.git` directories (read-only whole).
 * Cost: one readdir per directory; bench/results.md ("Bash sandbox") times it on a real tree.
 */
export async function scanScope(root: string, opts: { isDenied(rel: string): boolean; skip: ReadonlySet<string>; signal?: AbortSignal | undefined }): Promise<ScopeScan> {
  const out: ScopeScan = { denied: [], gits: [], sockets: [] };
  const queue: Array<{ abs: string; rel: string }> = [{ abs: root, rel: "" }];
  while (queue.length > 0) {
    if (opts.signal?.aborted) throw new Error("cancelled");
    const batch = queue.splice(0, 32);
    await Promise.all(
      batch.map(async (dir) => {
        let entries: Dirent[];
        try {
          entries = await readdir(dir.abs, { withFileTypes: true });
        } catch {
          return;
        }
        for (const e of entries) {
          const rel = dir.rel ? `${dir.rel}/${e.name}` : e.name;
          const abs = `${dir.abs}/${e.name}`;
          if (e.isSymbolicLink() || opts.skip.has(abs)) continue;
          const isDir = e.isDirectory();
          // deny first: a `deny = [".git/**"]` hides a repository rather than just protecting it.
          if (opts.isDenied(rel)) out.denied.push({ path: abs, dir: isDir });
          else if (e.name === ".git" && (isDir || e.isFile())) out.gits.push({ path: abs, dir: isDir });
          else if (e.isSocket()) out.sockets.push(abs);
          else if (isDir) queue.push({ abs, rel });
        }
      }),
    );
  }
  return out;
}
