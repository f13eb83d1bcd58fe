import { statSync } from "node:fs";
import path from "node:path";
import { PodError } from "./errors.js";
import { loadManifest, manifestFromText, type Manifest } from "./manifest.js";

/**
 * Which manifest a command uses (docs/manifest.md, "Which manifest"):
 *
 * - `--manifest FILE`: exactly that file (relative to `-C` when both are given).
 * - otherwise `pod.toml` in the start directory (`-C DIR`, else the current one) or the
 *   nearest parent that has one, as git finds `.git`. The search goes on past a git
 *   root up to the filesystem root, as git's own does: a monorepo's services can share
 *   one pod.toml at the top.
 * - none anywhere: pod's default manifest (defaultManifestText), rooted at the git root
 *   of the start directory, else the start directory itself.
 *
 * Reads only the file system (stat), never runs git: a repository's config cannot run
 * anything while pod looks for its manifest.
 */
export const MANIFEST_NAME = "pod.toml";

export interface ManifestLookup {
  dir?: string | undefined;
  manifest?: string | undefined;
}

export async function findAndLoadManifest(opts: ManifestLookup): Promise<Manifest> {
  if (opts.manifest) return loadManifest(path.resolve(opts.dir ?? ".", opts.manifest));
  const start = startDir(opts.dir);
  const found = findUp(start, MANIFEST_NAME, isFile);
  if (found) return loadManifest(found);
  const git = findUp(start, ".git", exists);
  return defaultManifest(git ? path.dirname(git) : start);
}

/** The directory the search starts in; a missing `-C` directory is a usage error. */
function startDir(dir: string | undefined): string {
  const abs = path.resolve(dir ?? ".");
  if (!isDir(abs)) {
    throw new PodError("invalid_input", `-C ${dir}: ${abs} is not a directory`, "give -C an existing directory (where to look for pod.toml)");
  }
  return abs;
}

/** `name` in `dir` or its nearest parent that has it, as an absolute path. */
export function findUp(dir: string, name: string, test: (p: string) => boolean): string | undefined {
  for (let cur = dir; ; cur = path.dirname(cur)) {
    const candidate = path.join(cur, name);
    if (test(candidate)) return candidate;
    if (path.dirname(cur) === cur) return undefined;
  }
}

/**
 * The manifest pod uses when there is no pod.toml: named after the root directory, the
 * file tools confined to that root (`.env*` denied, as `pod init` writes), Bash off,
 * everything else at its documented default. Kept as TOML so docs/manifest.md can show
 * it exactly, and it goes through the same validation as a real file.
 */
export function defaultManifestText(root: string): string {
  return `[pod]\nname = ${JSON.stringify(podNameFor(path.basename(root)))}\n\n[scope]\nroot = "."\ndeny = [".env*"]\n`;
}

export async function defaultManifest(root: string): Promise<Manifest> {
  const m = await manifestFromText(defaultManifestText(root), path.join(root, MANIFEST_NAME));
  return { ...m, defaulted: true };
}

/** A directory name made into a valid pod name ("My App" → "my-app"; nothing usable → "pod"). */
export function podNameFor(dirName: string): string {
  const name = dirName.toLowerCase().replace(/[^a-z0-9_-]+/g, "-").replace(/^-+|-+$/g, "").slice(0, 64).replace(/-+$/, "");
  return name || "pod";
}

function isFile(p: string): boolean {
  try {
    return statSync(p).isFile();
  } catch {
    return false;
  }
}

function isDir(p: string): boolean {
  try {
    return statSync(p).isDirectory();
  } catch {
    return false;
  }
}

/** A `.git` directory or gitfile (a worktree or submodule). */
function exists(p: string): boolean {
  try {
    statSync(p);
    return true;
  } catch {
    return false;
  }
}
