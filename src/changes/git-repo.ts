import { readFileSync, realpathSync, statSync } from "node:fs";
import path from "node:path";

/** Where a work tree's git data is, found the way git finds it (without GIT_DIR). */
export interface GitRepo {
  /** The work tree's top directory (real path). */
  workTree: string;
  /** The repository directory: `.git`, or where a gitfile points (a worktree, a submodule). */
  gitDir: string;
  /** `objects/` of the common directory (a linked worktree shares its main repository's). */
  objectsDir: string;
  indexFile: string;
}

export type RepoFound = { ok: true; repo: GitRepo } | { ok: false; reason: string };

/**
 * The repository whose work tree holds `dir`: the nearest `.git` at or above it, a
 * directory or a `gitdir: …` file. Only read, never run. A `.git` the model could
 * plant does not matter here: the scope root's is protected (SPEC "Containment"),
 * the directories above it are outside the scope, and nested ones are never used.
 */
export function findRepo(dir: string): RepoFound {
  let d: string;
  try {
    d = realpathSync(dir);
  } catch (err) {
    return { ok: false, reason: `cannot resolve ${dir} (${(err as NodeJS.ErrnoException).code})` };
  }
  for (;;) {
    const dotGit = path.join(d, ".git");
    const st = statSync(dotGit, { throwIfNoEntry: false });
    if (st?.isDirectory()) return describe(d, dotGit);
    if (st?.isFile()) {
      const text = readFileSync(dotGit, "utf8");
      const m = /^gitdir: (.+)$/m.exec(text);
      if (!m) return { ok: false, reason: `${dotGit} is a file but not a gitfile` };
      return describe(d, path.resolve(d, m[1]!.trim()));
    }
    const up = path.dirname(d);
    if (up === d) return { ok: false, reason: "not a git checkout" };
    d = up;
  }
}

function describe(workTree: string, gitDir: string): RepoFound {
  let common = gitDir;
  try {
    common = path.resolve(gitDir, readFileSync(path.join(gitDir, "commondir"), "utf8").trim());
  } catch {
    // no commondir: not a linked worktree
  }
  let config = "";
  try {
    config = readFileSync(path.join(common, "config"), "utf8");
  } catch {
    return { ok: false, reason: `${gitDir} has no readable config: not a repository` };
  }
  if (/^\s*objectformat\s*=\s*sha256\s*$/im.test(config)) return { ok: false, reason: "a SHA-256 repository (not read by pod)" };
  // core.worktree moves the work tree away from the .git's directory; pod does not follow it.
  if (/^\s*worktree\s*=/im.test(config)) return { ok: false, reason: "core.worktree is set (not followed by pod)" };
  return { ok: true, repo: { workTree, gitDir, objectsDir: path.join(common, "objects"), indexFile: path.join(gitDir, "index") } };
}
