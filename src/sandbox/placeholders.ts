import { lstat, readdir, rmdir } from "node:fs/promises";

/**
 * The placeholders bwrap makes on the host. A protected path that does not exist yet
 * gets an empty read-only tmpfs at its first missing component for the length of a
 * call (bwrap.ts), and bwrap has to make that mount point in the real directory: an
 * empty directory. After the call pod removes it, so nothing is left that changes
 * what a user sees. An empty directory is what git ignores: an empty `.git`
 * directory is skipped as git looks for a repository, where an empty `.git` file
 * would break every git command there — so even a placeholder left by a pod that was
 * killed mid-call breaks nothing.
 *
 * Several confined processes of one pod can hold the same placeholder at once (a
 * Bash call beside a long-lived MCP server): removing the directory under a process
 * whose namespace has it mounted would detach that mount, and with it the
 * protection. So placeholders are counted here, per process — the one table in
 * src/sandbox/ that outlives a call, because mount points on the host do too — and
 * the last holder removes it.
 */
const holders = new Map<string, number>();

/** Takes the placeholders a call needs; the returned function gives them back (and removes the last ones). */
export function holdPlaceholders(paths: readonly string[]): () => Promise<void> {
  for (const p of paths) holders.set(p, (holders.get(p) ?? 0) + 1);
  let released = false;
  return async () => {
    if (released) return;
    released = true;
    for (const p of paths) {
      const n = (holders.get(p) ?? 1) - 1;
      if (n > 0) {
        holders.set(p, n);
        continue;
      }
      holders.delete(p);
      await removeIfEmptyDir(p);
    }
  };
}

async function removeIfEmptyDir(p: string): Promise<void> {
  try {
    const st = await lstat(p);
    if (!st.isDirectory() || (await readdir(p)).length > 0) return;
    await rmdir(p);
  } catch {
    // gone already, or not ours to remove
  }
}
