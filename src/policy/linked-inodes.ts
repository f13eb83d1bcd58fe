import type { Stats } from "node:fs";
import { lstat, readdir } from "node:fs/promises";
import path from "node:path";
import { gitConfigFiles } from "./git-credentials.js";

/**
 * Which files' inodes a name must not share: denied and hidden ones for any access,
 * read-only ones for writes; "credential" is git's config files in the protected
 * `.git`s, whose content is only ever shown redacted.
 */
export type LinkAccess = "read" | "write" | "credential";

export interface LinkSources {
  root: string;
  /** Whether a root-relative path is denied (by `deny` or by being hidden). */
  isDenied(rel: string): boolean;
  /** Absolute paths whose files may never be reached, inside the root or not. */
  hidden: readonly string[];
  /** Absolute paths whose files may be read but not written. */
  readOnly: readonly string[];
}

/**
 * Hardlinks: `deny` and the protected paths are matched on names, and a second
 * name for the same inode (a hardlink) would otherwise be a way around them.
 *
 * Why this is cheap and still sound:
 * - A file shares its inode with another name only if its link count is > 1, so
 *   callers ask only then (nlink is in the stat they already have). On an ordinary
 *   checkout that is almost never; the whole cost is skipped.
 * - For the same reason only denied/protected files with nlink > 1 can be the other
 *   name, so the scan records just those (dev, ino) pairs; it reads directories
 *   (names and types, no stat) and stats only the files whose path is denied.
 * - The sets are computed once and kept until something could have changed them.
 *   The file tools cannot: they never create links (Write replaces by rename, which
 *   makes a fresh inode with nlink 1) and never write a denied or protected path.
 *   Only a command can, so the toolbox calls `forget()` after every Bash call.
 *   Changes made outside the run (the user's own processes) are not the attacker.
 */
export class LinkedInodes {
  private readonly sets = new Map<LinkAccess, Promise<Set<string>>>();

  constructor(private readonly src: LinkSources) {}

  forget(): void {
    this.sets.clear();
  }

  /** Whether `st` (nlink > 1) is another name of a file in the `access` set. */
  async has(st: Stats, access: LinkAccess, signal?: AbortSignal): Promise<boolean> {
    if (st.nlink <= 1) return false;
    return (await this.set(access, signal)).has(`${st.dev}:${st.ino}`);
  }

  /** A refusal when `st` (a regular file with nlink > 1) is also a file that `access` may not reach. */
  async check(st: Stats, access: LinkAccess, shown: string, signal?: AbortSignal): Promise<string | undefined> {
    if (st.nlink <= 1) return undefined;
    const key = `${st.dev}:${st.ino}`;
    if ((await this.set("read", signal)).has(key)) {
      return `${shown} is a hardlink to a denied or hidden file (same inode); it cannot be read or written under another name.`;
    }
    if (access === "write" && (await this.set("write", signal)).has(key)) {
      return `${shown} is a hardlink to a protected file (the pod's manifest or .git/); it cannot be written under another name.`;
    }
    return undefined;
  }

  private set(access: LinkAccess, signal?: AbortSignal): Promise<Set<string>> {
    let s = this.sets.get(access);
    if (!s) {
      s = this.scan(access, signal);
      // A failed or cancelled scan is not remembered: the next check starts again.
      s.catch(() => this.sets.delete(access));
      this.sets.set(access, s);
    }
    return s;
  }

  private async scan(access: LinkAccess, signal?: AbortSignal): Promise<Set<string>> {
    const out = new Set<string>();
    if (access === "read") {
      await collect(this.src.root, "", false, (rel) => this.src.isDenied(rel), out, signal);
      for (const h of this.src.hidden) await collect(h, undefined, true, () => true, out, signal);
    } else if (access === "write") {
      for (const p of this.src.readOnly) await collect(p, undefined, true, () => true, out, signal);
    } else {
      for (const p of this.src.readOnly) {
        if (path.basename(p) !== ".git") continue;
        for (const f of await gitConfigFiles(p)) await collect(f, undefined, true, () => true, out, signal);
      }
    }
    return out;
  }
}

/**
 * Adds to `out` the (dev, ino) of every file with nlink > 1 under `abs` that is
 * picked (itself or through a picked ancestor). Symlinks are not followed: a link
 * to a denied file is caught by name when it is resolved.
 */
async function collect(
  abs: string,
  rel: string | undefined,
  inherited: boolean,
  pick: (rel: string) => boolean,
  out: Set<string>,
  signal?: AbortSignal,
): Promise<void> {
  let st: Stats;
  try {
    st = await lstat(abs);
  } catch {
    return;
  }
  if (st.isFile()) {
    if ((inherited || (rel !== undefined && pick(rel))) && st.nlink > 1) out.add(`${st.dev}:${st.ino}`);
    return;
  }
  if (!st.isDirectory()) return;
  const stack: Array<{ abs: string; rel: string | undefined; picked: boolean }> = [{ abs, rel, picked: inherited || (rel !== undefined && rel !== "" && pick(rel)) }];
  while (stack.length > 0) {
    if (signal?.aborted) throw new Error("cancelled");
    const dir = stack.pop()!;
    let entries;
    try {
      entries = await readdir(dir.abs, { withFileTypes: true });
    } catch {
      continue;
    }
    for (const e of entries) {
      const childAbs = path.join(dir.abs, e.name);
      const childRel = dir.rel === undefined ? undefined : dir.rel ? `${dir.rel}/${e.name}` : e.name;
      const picked = dir.picked || (childRel !== undefined && pick(childRel));
      if (e.isDirectory()) stack.push({ abs: childAbs, rel: childRel, picked });
      else if (e.isFile() && picked) {
        try {
          const fst = await lstat(childAbs);
          if (fst.nlink > 1) out.add(`${fst.dev}:${fst.ino}`);
        } catch {
          // vanished: nothing to protect
        }
      }
    }
  }
}
