import type { Stats } from "node:fs";
import { lstat, readdir } from "node:fs/promises";
import path from "node:path";
import { credentialFiles, isGitConfigPath } from "./git-credentials.js";
import { LinkedInodes, type LinkAccess } from "./linked-inodes.js";
import { otherNames } from "./other-names.js";
import { dirsBetween, fold, globMatcher, isInside, under } from "./paths.js";
import type { ProtectedSet } from "./protected.js";
import { scanScope, type Entry } from "./scan.js";

/**
 * What the sandbox must do inside the directories it makes writable, derived from the
 * same rules the file tools apply (plain data: src/sandbox/ renders it as mounts).
 * Every path is absolute; the lists are pruned (nothing under a masked directory,
 * no read-only path under a read-only directory) and deduplicated.
 */
export interface ProtectedView {
  /** Existing paths shown read-only: the manifest, each trusted file and its directory, every `.git` at any depth, other names of those files. */
  readOnly: string[];
  /** Existing paths shown empty and unreadable: the runtime dir, every path `deny` matches, other names of those files, sockets. */
  masked: Entry[];
  /** The first missing component of each protected path that does not exist yet: an empty read-only placeholder, so it cannot be created. */
  absent: string[];
  /** Existing directories that keep their name (each is a mount point of its own): the ancestors of protected paths. */
  pinned: string[];
  /** Files shown as a sanitized copy, read-only: git configs that hold credentials (and their other names). */
  sanitized: Array<{ path: string; content: string }>;
}

export interface ProtectionConfig extends ProtectedSet {
  /** The scope root, absolute and symlink-free. */
  root: string;
  /** `[scope] deny` globs. */
  deny: readonly string[];
}

/**
 * The one protection policy (SPEC "Containment", issue 22): what is protected
 * (read-only), denied and hidden, for every door. The file tools ask it about names
 * (ScopedFs: refusal(), isDenied(), the inode checks); the sandbox gets its view
 * (sandboxView()): the same rules rendered as what to mount. Input: the ProtectedSet
 * of src/policy/protected.ts plus the scope's root and deny globs.
 *
 * Names are matched folded (case and Unicode form), so `.GIT/config` on a
 * case-insensitive disk or a decomposed `é` meets the same refusal as the real name.
 */
export class Protection {
  readonly root: string;
  private readonly rootFolded: string;
  private readonly readOnly: string[];
  private readonly hidden: string[];
  private readonly denied: (rel: string) => boolean;
  /** Hidden paths inside the root, root-relative and folded: what walks must not enter. */
  private readonly hiddenRels: string[];
  private readonly links: LinkedInodes;
  private view: Promise<ProtectedView> | undefined;

  constructor(private readonly config: ProtectionConfig) {
    this.root = config.root;
    this.rootFolded = fold(config.root);
    this.readOnly = config.readOnly.map(fold);
    this.hidden = config.hidden.map(fold);
    this.hiddenRels = config.hidden.filter((h) => isInside(config.root, h) && h !== config.root).map((h) => fold(path.relative(config.root, h).split(path.sep).join("/")));
    const deny = globMatcher(config.deny, { nocase: true });
    // Walks ask this for every entry: skip the work when there is nothing to deny,
    // and the Unicode forms when the path is plain ASCII (they are then identical).
    this.denied =
      config.deny.length === 0
        ? () => false
        : (rel) => rel !== "" && (deny(rel) || (!/^[\x00-\x7f]*$/.test(rel) && (deny(rel.normalize("NFC")) || deny(rel.normalize("NFD")))));
    this.links = new LinkedInodes({ root: config.root, isDenied: (rel) => this.isDenied(rel), hidden: config.hidden, readOnly: config.readOnly });
  }

  /** Whether a root-relative path is hidden by `deny` (itself, not through an ancestor). */
  isDeniedByGlob(rel: string): boolean {
    return this.denied(rel);
  }

  /** Whether a root-relative path is hidden by `deny` or is (under) the runtime dir (used by Glob/Grep while walking). */
  isDenied(rel: string): boolean {
    return this.denied(rel) || (this.hiddenRels.length > 0 && this.isHiddenRel(rel));
  }

  private isHiddenRel(rel: string): boolean {
    const f = /^[\x00-\x7f]*$/.test(rel) ? rel.toLowerCase() : fold(rel);
    return this.hiddenRels.some((h) => under(h, f));
  }

  /** Why a path (given as absolute real and lexical forms) is off-limits for `access`, if it is. */
  refusal(input: string, forms: readonly string[], access: "read" | "write"): string | undefined {
    const folded = forms.map(fold);
    if (this.hidden.some((h) => folded.some((f) => under(h, f)))) {
      return `${input} is inside pod's runtime directory (its sessions, status and lock); no tool can read, list or write it.`;
    }
    if (access !== "write") return undefined;
    const ro = this.readOnly.find((p) => folded.some((f) => under(p, f)));
    // Any `.git` below the root is read-only too, not just the top one: a nested repository's
    // config or hooks run commands as soon as git is run in that directory.
    const nestedGit = folded.some((f) => isInside(this.rootFolded, f) && f.slice(this.rootFolded.length).split("/").includes(".git"));
    if (ro === undefined && !nestedGit) return undefined;
    if (ro === undefined || path.basename(ro) === ".git") {
      return `${input} is inside .git/, which is read-only for the agent: git config and hooks run commands, so changing them would escape the pod's permissions. Read it if you need to.`;
    }
    if (ro.endsWith(".toml")) return `${input} is the pod's manifest; the agent cannot change its own permissions. Read it if you need to.`;
    return `${input} is protected: it is a file pod trusts (a hook or MCP server's script, the manifest, a contract file) or the directory that holds one, part of the pod's own contract, which the agent cannot change. Read it if you need to.`;
  }

  /** A refusal when `st` is a second name (hardlink) for a denied or hidden file — or, for writes, a protected one. */
  checkLinks(st: Stats, access: LinkAccess, shown: string, signal?: AbortSignal): Promise<string | undefined> {
    return this.links.check(st, access, shown, signal);
  }

  /** Whether `st` is another name of a file the inode sets hold for `access` (false when nlink is 1). */
  linkedTo(st: Stats, access: LinkAccess, signal?: AbortSignal): Promise<boolean> {
    return this.links.has(st, access, signal);
  }

  /** After anything that may have made new links (a command): the inode sets are computed again when next needed. */
  forgetLinks(): void {
    this.links.forget();
  }

  /**
   * Whether a file may hold workspace credentials, so its content is never shown
   * raw (Read redacts it, Grep leaves it out): one of git's config files inside a
   * `.git` by its real root-relative path, or another name (hardlink) of one under
   * the protected `.git`.
   */
  async holdsGitCredentials(rel: string, st: Stats | undefined, signal?: AbortSignal): Promise<boolean> {
    if (isGitConfigPath(rel)) return true;
    return st !== undefined && st.nlink > 1 && (await this.links.has(st, "credential", signal));
  }

  /**
   * The sandbox's view, computed once (the first Bash call; `prepare()` starts it
   * early) and then only checked: what a command makes inside the scope it can read
   * anyway, and it cannot remove, rename or link what the view protects (each is a
   * mount point), so a new walk at each call would buy nothing. It is computed again
   * only when a path it names is no longer what it was (someone outside the sandbox
   * changed the tree).
   */
  async sandboxView(signal?: AbortSignal): Promise<ProtectedView> {
    if (this.view) {
      const current = this.view;
      const view = await current.catch(() => undefined);
      if (view && (await stillHolds(view))) return view;
      if (this.view === current) this.view = undefined;
    }
    return this.prepare(signal);
  }

  /** Starts computing the sandbox's view (once), e.g. while the first model request is in flight. */
  prepare(signal?: AbortSignal): Promise<ProtectedView> {
    if (!this.view) {
      const v = computeView(this, this.config, signal);
      v.catch(() => {
        if (this.view === v) this.view = undefined;
      });
      this.view = v;
    }
    return this.view;
  }
}

async function kindOf(p: string): Promise<"dir" | "file" | undefined> {
  const st = await lstat(p).catch(() => undefined);
  if (!st || st.isSymbolicLink()) return undefined;
  return st.isDirectory() ? "dir" : "file";
}

async function computeView(protection: Protection, config: ProtectionConfig, signal?: AbortSignal): Promise<ProtectedView> {
  const root = config.root;
  const masked: Entry[] = [];
  const absentOf: string[] = [];
  for (const h of config.hidden) {
    const k = await kindOf(h);
    if (k) masked.push({ path: h, dir: k === "dir" });
    else absentOf.push(h);
  }
  const readOnly: Entry[] = [];
  for (const p of config.readOnly) {
    const k = await kindOf(p);
    if (k) readOnly.push({ path: p, dir: k === "dir" });
    else absentOf.push(p);
  }
  const skip = new Set(masked.filter((m) => m.dir).map((m) => m.path));
  const scan = await scanScope(root, { isDenied: (rel) => protection.isDeniedByGlob(rel), skip, signal });
  masked.push(...scan.denied, ...scan.sockets.map((s) => ({ path: s, dir: false })));
  readOnly.push(...scan.gits);
  const pinned = new Set(config.pinned);
  // A nested repository keeps its place: `mv vendor/lib vendor/lib2; mkdir -p vendor/lib/.git` would swap it.
  for (const g of scan.gits) for (const d of dirsBetween(root, g.path)) pinned.add(d);

  const sanitized: ProtectedView["sanitized"] = [];
  for (const g of scan.gits) if (g.dir) for (const c of await credentialFiles(g.path)) sanitized.push({ path: c.path, content: c.text });

  for (const d of scan.denied) if (d.dir) skip.add(d.path);
  const others = await otherNames(root, { masked, readOnly, sanitized: sanitized.map((s) => s.path) }, { skip, signal });
  masked.push(...others.masked.map((p) => ({ path: p, dir: false })));
  readOnly.push(...others.readOnly.map((p) => ({ path: p, dir: false })));
  for (const o of others.sanitized) sanitized.push({ path: o.path, content: sanitized.find((s) => s.path === o.of)!.content });

  return prune(root, { readOnly, masked, pinned: [...pinned], absentOf, sanitized });
}

/**
 * Normalizes the view: drops what an enclosing mount already covers (anything under a
 * masked directory; read-only and pinned paths under a read-only directory), pinned
 * paths that do not exist (their first missing component becomes a placeholder) or
 * are read-only anyway, and turns each missing protected path inside the root into its
 * first missing component — unless its parent cannot be written anyway.
 */
async function prune(root: string, v: { readOnly: Entry[]; masked: Entry[]; pinned: string[]; absentOf: string[]; sanitized: ProtectedView["sanitized"] }): Promise<ProtectedView> {
  const maskedDirs = v.masked.filter((m) => m.dir).map((m) => m.path);
  const roDirs = v.readOnly.filter((r) => r.dir).map((r) => r.path);
  const strictlyUnder = (bases: string[], p: string) => bases.some((b) => p !== b && under(b, p));
  const inMasked = (p: string) => strictlyUnder(maskedDirs, p);
  const inReadOnly = (p: string) => strictlyUnder(roDirs, p);

  const masked = dedupe(v.masked.filter((m) => !inMasked(m.path)), (m) => m.path);
  const maskedSet = new Set(masked.map((m) => m.path));
  const readOnly = [...new Set(v.readOnly.map((r) => r.path))].filter((p) => !inMasked(p) && !inReadOnly(p) && !maskedSet.has(p));
  const readOnlySet = new Set(readOnly);
  const pinned: string[] = [];
  for (const p of new Set(v.pinned)) {
    if (readOnlySet.has(p) || maskedSet.has(p) || inMasked(p) || inReadOnly(p)) continue;
    if ((await kindOf(p)) === "dir") pinned.push(p);
    else v.absentOf.push(p);
  }
  const absent = new Set<string>();
  for (const p of v.absentOf) {
    const first = await firstMissing(root, p);
    if (!first || inMasked(first) || inReadOnly(first) || roDirs.includes(path.dirname(first)) || maskedDirs.includes(path.dirname(first))) continue;
    absent.add(first);
  }
  const sanitized = dedupe(
    v.sanitized.filter((s) => !inMasked(s.path) && !maskedSet.has(s.path)),
    (s) => s.path,
  );
  const byDepth = (a: string, b: string) => a.split("/").length - b.split("/").length || (a < b ? -1 : a > b ? 1 : 0);
  return {
    readOnly: readOnly.sort(byDepth),
    masked: masked.sort((a, b) => byDepth(a.path, b.path)),
    absent: [...absent].filter((a) => ![...absent].some((b) => b !== a && under(b, a))).sort(byDepth),
    pinned: pinned.sort(byDepth),
    sanitized: sanitized.sort((a, b) => byDepth(a.path, b.path)),
  };
}

function dedupe<T>(xs: T[], key: (x: T) => string): T[] {
  const seen = new Set<string>();
  return xs.filter((x) => (seen.has(key(x)) ? false : (seen.add(key(x)), true)));
}

/** The first component of `p` below `root` that does not exist (undefined when p is outside the root or exists). */
async function firstMissing(root: string, p: string): Promise<string | undefined> {
  if (!isInside(root, p) || p === root) return undefined;
  for (const d of [...dirsBetween(root, p), p]) {
    const st = await lstat(d).catch(() => undefined);
    if (!st) return d;
    // Through a file or a symlink: nothing can be created below it by that name anyway.
    if (!st.isDirectory()) return undefined;
  }
  return undefined;
}

/** Whether every path the view names is still what it was: a cheap check before each use. */
async function stillHolds(v: ProtectedView): Promise<boolean> {
  const checks: Array<Promise<boolean>> = [];
  const is = (p: string, want: "dir" | "file" | "any") =>
    checks.push(
      lstat(p).then(
        (st) => !st.isSymbolicLink() && (want === "any" || st.isDirectory() === (want === "dir")),
        () => false,
      ),
    );
  for (const p of v.readOnly) is(p, "any");
  for (const m of v.masked) is(m.path, m.dir ? "dir" : "file");
  for (const p of v.pinned) is(p, "dir");
  for (const s of v.sanitized) is(s.path, "file");
  // A placeholder left by a call that was cut (pod killed) is an empty directory: still absent in effect.
  for (const a of v.absent)
    checks.push(
      lstat(a).then(
        (st) => st.isDirectory() && readdir(a).then((e) => e.length === 0, () => false),
        () => true,
      ),
    );
  return (await Promise.all(checks)).every(Boolean);
}
