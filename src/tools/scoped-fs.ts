import { lstat, realpath } from "node:fs/promises";
import path from "node:path";
import picomatch from "picomatch";
import type { Stats } from "node:fs";
import { LinkedInodes, type LinkAccess } from "../policy/linked-inodes.js";
import type { ScopeConfig } from "./types.js";

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
 * Protected paths (SPEC "Containment", from src/policy/protected.ts) come before
 * all of that and no glob can open them: `readOnly` (the manifest, `.git/`) is
 * never written, `hidden` (the runtime dir) is never read, listed or written.
 * They are matched on the resolved real path and on the path as written, folded
 * (case and Unicode form), so `.GIT/config` on a case-insensitive disk, a symlink
 * to pod.toml or `src/../.pod` all land on the same refusal. On a case-sensitive
 * disk the folding can refuse a look-alike such as `.POD/` too: a price worth paying.
 */
export class ScopedFs {
  readonly root: string;
  private readonly denied: (rel: string) => boolean;
  private readonly writable: (rel: string) => boolean;
  private readonly readOnly: string[];
  private readonly hidden: string[];
  /** Hidden paths inside the root, root-relative and folded: what walks must not enter. */
  private readonly hiddenRels: string[];
  private readonly links: LinkedInodes;
  private readonly rootFolded: string;

  constructor(scope: ScopeConfig) {
    this.root = scope.root;
    this.rootFolded = fold(scope.root);
    this.readOnly = scope.readOnly.map(fold);
    this.hidden = scope.hidden.map(fold);
    this.hiddenRels = scope.hidden.filter((h) => isInside(scope.root, h) && h !== scope.root).map((h) => fold(this.relative(h)));
    const deny = globMatcher(scope.deny, { nocase: true });
    // Walks ask this for every entry: skip the work when there is nothing to deny,
    // and the Unicode forms when the path is plain ASCII (they are then identical).
    this.denied =
      scope.deny.length === 0
        ? () => false
        : (rel) => rel !== "" && (deny(rel) || (!/^[\x00-\x7f]*$/.test(rel) && (deny(rel.normalize("NFC")) || deny(rel.normalize("NFD")))));
    const writable = scope.writable ? globMatcher(scope.writable) : () => true;
    this.writable = (rel) => rel !== "" && writable(rel);
    this.links = new LinkedInodes({ root: scope.root, isDenied: (rel) => this.isDenied(rel), hidden: scope.hidden, readOnly: scope.readOnly });
  }

  /** Whether a root-relative path is hidden by `deny` or is (under) the runtime dir (used by Glob/Grep while walking). */
  isDenied(rel: string): boolean {
    return this.denied(rel) || (this.hiddenRels.length > 0 && this.isHiddenRel(rel));
  }

  private isHiddenRel(rel: string): boolean {
    const f = /^[\x00-\x7f]*$/.test(rel) ? rel.toLowerCase() : fold(rel);
    return this.hiddenRels.some((h) => under(h, f));
  }

  /**
   * A refusal when `st` (the file a resolved path names) is a second name for a
   * denied or hidden file — or, for writes, a protected one — through a hardlink.
   * Free unless st.nlink > 1; see LinkedInodes for how it stays cheap.
   */
  checkLinks(st: Stats, access: LinkAccess, shown: string, signal?: AbortSignal): Promise<string | undefined> {
    return this.links.check(st, access, shown, signal);
  }

  /**
   * Drops results whose file is a hardlink to a denied or hidden file. For Grep:
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
        if (st && st.nlink > 1 && (await this.links.check(st, "read", group[j]!.rel, signal).catch(() => "unchecked"))) continue;
        kept.push(group[j]!);
      }
    }
    return kept;
  }

  /** After anything that may have made new links (a command): the inode sets are computed again when next needed. */
  forgetLinks(): void {
    this.links.forget();
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
    const guarded = this.protection(input, [fold(abs), fold(lexical)], access);
    if (guarded) return fail(guarded);
    const rel = this.relative(abs);
    const lexicalRel = this.relative(lexical);
    if (this.denied(rel) || this.denied(lexicalRel) || ancestors(rel).some(this.denied)) {
      return fail(`${input} is denied by the pod's scope (deny); it cannot be read, written or listed.`);
    }
    if (access === "write" && !this.writable(rel)) {
      return fail(`${input} is not writable: the pod's scope only allows writing to ${"matching `writable` globs"}.`);
    }
    return { ok: true, abs, rel, exists };
  }

  /** Why a path (given as folded real and lexical forms) is off-limits for `access`, if it is. */
  private protection(input: string, forms: string[], access: Access): string | undefined {
    if (this.hidden.some((h) => forms.some((f) => under(h, f)))) {
      return `${input} is inside pod's runtime directory (its sessions, status and lock); no tool can read, list or write it.`;
    }
    if (access !== "write") return undefined;
    const ro = this.readOnly.find((p) => forms.some((f) => under(p, f)));
    // Any `.git` below the root is read-only too, not just the top one: a nested repository's
    // config or hooks run commands as soon as git is run in that directory.
    const nestedGit = forms.some((f) => isInside(this.rootFolded, f) && f.slice(this.rootFolded.length).split("/").includes(".git"));
    if (ro === undefined && !nestedGit) return undefined;
    if (ro === undefined || path.basename(ro) === ".git") {
      return `${input} is inside .git/, which is read-only for the agent: git config and hooks run commands, so changing them would escape the pod's permissions. Read it if you need to.`;
    }
    if (ro.endsWith(".toml")) return `${input} is the pod's manifest; the agent cannot change its own permissions. Read it if you need to.`;
    return `${input} is protected: it is part of the pod's own contract, which the agent cannot change. Read it if you need to.`;
  }
}

/** Case- and Unicode-form-insensitive form of a path, for matching protected paths. */
function fold(p: string): string {
  return p.normalize("NFC").toLowerCase();
}

/** Whether `p` is `base` or below it (both absolute or both root-relative, same folding). */
function under(base: string, p: string): boolean {
  return p === base || (p.startsWith(base) && (p[base.length] === "/" || base.endsWith("/")));
}

/**
 * Globs with .gitignore's anchoring: a pattern without a slash matches at any
 * depth (".env*" also hides "config/.env.local"); one with a slash is relative to the root.
 */
export function globMatcher(patterns: readonly string[], opts: { nocase?: boolean } = {}): (rel: string) => boolean {
  const anchored = patterns.map((p) => (p.includes("/") ? p.replace(/^\//, "") : `**/${p}`));
  return picomatch(anchored, { dot: true, nocase: opts.nocase ?? false });
}

function isInside(root: string, p: string): boolean {
  const rel = path.relative(root, p);
  return rel === "" || (!rel.startsWith("..") && !path.isAbsolute(rel));
}

/** "a/b/c" → ["a", "a/b"]: a denied directory hides everything below it. */
function ancestors(rel: string): string[] {
  const parts = rel.split("/");
  return parts.slice(0, -1).map((_, i) => parts.slice(0, i + 1).join("/"));
}
