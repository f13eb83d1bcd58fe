import { lstat, realpath } from "node:fs/promises";
import path from "node:path";
import picomatch from "picomatch";
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
 */
export class ScopedFs {
  readonly root: string;
  private readonly denied: (rel: string) => boolean;
  private readonly writable: (rel: string) => boolean;

  constructor(scope: ScopeConfig) {
    this.root = scope.root;
    const deny = globMatcher(scope.deny, { nocase: true });
    // Walks ask this for every entry: skip the work when there is nothing to deny,
    // and the Unicode forms when the path is plain ASCII (they are then identical).
    this.denied =
      scope.deny.length === 0
        ? () => false
        : (rel) => rel !== "" && (deny(rel) || (!/^[\x00-\x7f]*$/.test(rel) && (deny(rel.normalize("NFC")) || deny(rel.normalize("NFD")))));
    const writable = scope.writable ? globMatcher(scope.writable) : () => true;
    this.writable = (rel) => rel !== "" && writable(rel);
  }

  /** Whether a root-relative path is hidden by `deny` (used by Glob/Grep while walking). */
  isDenied(rel: string): boolean {
    return this.denied(rel);
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
