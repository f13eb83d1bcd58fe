import { lstat, realpath } from "node:fs/promises";
import path from "node:path";
import type { Stats } from "node:fs";
import type { LinkAccess } from "../policy/linked-inodes.js";
import { globMatcher, isInside } from "../policy/paths.js";
import { Protection } from "../policy/protection.js";
import type { ScopeConfig } from "./types.js";

export { globMatcher };

export type Resolved = { ok: true; abs: string; rel: string; exists: boolean } | { ok: false; message: string };
export type Access = "read" | "write";

const MAX_PATH = 4096;
const MAX_COMPONENT = 255;

/**
 * The boundary every file tool goes through. A model-given path is resolved
 * against scope.root, symlinks are resolved on the part that exists, and the
 * result must stay inside the (real) root, outside `deny`, and — for writes —
 * inside `writable`. Refusals are values with a message meant for the model.
 *
 * Globs without a slash match a file's name anywhere (like .gitignore: ".env*"
 * hides "config/.env.local"); globs with a slash are anchored at the root.
 * `deny` is matched case-insensitively and on both Unicode normal forms, so
 * ".ENV" or a decomposed "é" cannot slip past it; `writable` is matched exactly.
 *
 * Protected paths come before all of that and no glob can open them: they are the
 * one protection policy's (src/policy/protection.ts), which the sandbox's mounts are
 * derived from too. `readOnly` (the manifest, `.git/`, trusted files and their
 * directories) is never written, `hidden` (the runtime dir) is never read, listed or
 * written. They are matched on the resolved real path and on the path as written,
 * folded (case and Unicode form), so `.GIT/config` on a case-insensitive disk, a
 * symlink to pod.toml or `src/../.pod` all land on the same refusal. On a
 * case-sensitive disk the folding can refuse a look-alike such as `.POD/` too: a
 * price worth paying.
 */
export class ScopedFs {
  readonly root: string;
  /** The protection policy this boundary applies; Bash's sandbox view comes from the same object. */
  readonly protection: Protection;
  private readonly writable: (rel: string) => boolean;

  /** `protection`: the run's policy when the caller made it already (to share its view with hooks and MCP servers); else made from `scope`. */
  constructor(scope: ScopeConfig, protection?: Protection) {
    this.root = scope.root;
    this.protection = protection ?? new Protection({ root: scope.root, deny: scope.deny, readOnly: scope.readOnly, hidden: scope.hidden, pinned: scope.pinned ?? [] });
    const writable = scope.writable ? globMatcher(scope.writable) : () => true;
    this.writable = (rel) => rel !== "" && writable(rel);
  }

  /** Whether a root-relative path is hidden by `deny` or is (under) the runtime dir (used by Glob/Grep while walking). */
  isDenied(rel: string): boolean {
    return this.protection.isDenied(rel);
  }

  /**
   * A refusal when `st` (the file a resolved path names) is a second name for a
   * denied or hidden file — or, for writes, a protected one — through a hardlink.
   * Free unless st.nlink > 1; see LinkedInodes for how it stays cheap.
   */
  checkLinks(st: Stats, access: LinkAccess, shown: string, signal?: AbortSignal): Promise<string | undefined> {
    return this.protection.checkLinks(st, access, shown, signal);
  }

  /**
   * Drops results whose file is a hardlink to a denied or hidden file (or to one of
   * git's config files, which may hold credentials). For Grep:
   * its walk sees names and types only (no stat, for speed), so the inode check
   * runs on the files that matched — usually few — instead of on every file.
   */
  async withoutLinkedDenied<T extends { rel: string }>(hits: T[], signal?: AbortSignal): Promise<T[]> {
    const kept: T[] = [];
    // lstat in groups: thousands of hits (files_with_matches on a broad pattern) stay cheap.
    for (let i = 0; i < hits.length; i += 64) {
      const group = hits.slice(i, i + 64);
      const stats = await Promise.all(group.map((h) => lstat(path.join(this.root, h.rel)).catch(() => undefined)));
      for (let j = 0; j < group.length; j++) {
        const st = stats[j];
        // Fails closed: a check that cannot finish (cancelled) drops the hit.
        if (st && st.nlink > 1 && ((await this.protection.checkLinks(st, "read", group[j]!.rel, signal).catch(() => "unchecked")) || (await this.protection.linkedTo(st, "credential", signal).catch(() => true)))) continue;
        kept.push(group[j]!);
      }
    }
    return kept;
  }

  /**
   * Whether a file (by its root-relative real path, and its stat when there is one)
   * may hold workspace credentials: git's config files. Read shows them redacted,
   * Grep leaves them out (a pattern's match or miss would tell a token's letters).
   */
  holdsCredentials(rel: string, st?: Stats, signal?: AbortSignal): Promise<boolean> {
    return this.protection.holdsGitCredentials(rel, st, signal).catch(() => true);
  }

  /** After anything that may have made new links (a command): the inode sets are computed again when next needed. */
  forgetLinks(): void {
    this.protection.forgetLinks();
  }

  /** Root-relative display form of an absolute path inside the root. */
  relative(abs: string): string {
    return path.relative(this.root, abs).split(path.sep).join("/");
  }

  async resolve(input: string, access: Access): Promise<Resolved> {
    const fail = (message: string): Resolved => ({ ok: false, message });
    if (typeof input !== "string" || input.trim() === "") return fail("The path is empty. Give a path relative to the workspace root.");
    if (input.includes("\0")) return fail("The path contains a NUL byte.");
    if (input.length > MAX_PATH) return fail(`The path is longer than ${MAX_PATH} characters.`);
    if (input.split(/[\\/]/).some((c) => Buffer.byteLength(c) > MAX_COMPONENT)) return fail(`A path component is longer than ${MAX_COMPONENT} bytes.`);

    const lexical = path.resolve(this.root, input);
    if (!isInside(this.root, lexical)) return fail(`${input} is outside the workspace (${this.root}). Only paths inside it can be used.`);

    // Find the longest prefix that exists and resolve its symlinks; the rest will be created.
    let existing = lexical;
    const tail: string[] = [];
    let exists = true;
    for (;;) {
      try {
        await lstat(existing);
        break;
      } catch (err) {
        const code = (err as NodeJS.ErrnoException).code;
        if (code === "ENOTDIR") return fail(`${input} goes through a file, not a directory.`);
        if (code !== "ENOENT") return fail(`${input} cannot be checked (${code}).`);
        exists = false;
        tail.unshift(path.basename(existing));
        existing = path.dirname(existing);
      }
    }
    let real: string;
    try {
      real = await realpath(existing);
    } catch (err) {
      const code = (err as NodeJS.ErrnoException).code;
      if (code === "ELOOP") return fail(`${input} is a symlink loop.`);
      if (code === "ENOTDIR") return fail(`${input} goes through a file, not a directory.`);
      return fail(`${input} cannot be resolved (${code}).`);
    }
    if (!isInside(this.root, real)) return fail(`${input} leads outside the workspace through a symlink; it cannot be used.`);
    if (tail.length > 0) {
      try {
        const st = await lstat(real);
        if (!st.isDirectory()) return fail(`${input} goes through a file, not a directory.`);
      } catch {
        return fail(`${input} cannot be checked.`);
      }
    }
    const abs = path.join(real, ...tail);
    const guarded = this.protection.refusal(input, [abs, lexical], access);
    if (guarded) return fail(guarded);
    const rel = this.relative(abs);
    const lexicalRel = this.relative(lexical);
    const denied = (r: string) => this.protection.isDeniedByGlob(r);
    if (denied(rel) || denied(lexicalRel) || ancestors(rel).some(denied)) {
      return fail(`${input} is denied by the pod's scope (deny); it cannot be read, written or listed.`);
    }
    if (access === "write" && !this.writable(rel)) {
      return fail(`${input} is not writable: the pod's scope only allows writing to ${"matching `writable` globs"}.`);
    }
    return { ok: true, abs, rel, exists };
  }
}

/** "a/b/c" → ["a", "a/b"]: a denied directory hides everything below it. */
function ancestors(rel: string): string[] {
  const parts = rel.split("/");
  return parts.slice(0, -1).map((_, i) => parts.slice(0, i + 1).join("/"));
}
