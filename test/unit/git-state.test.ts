// The system prompt's git line is read without running git (src/prompt/git-state.ts):
// here it is checked against real git's own answer (`git status --porcelain
// --untracked-files=no --ignore-submodules=all` empty or not, `git symbolic-ref`) on real
// repositories in every state that line distinguishes.
import { execFileSync } from "node:child_process";
import { chmodSync, mkdirSync, mkdtempSync, realpathSync, rmSync, symlinkSync, unlinkSync, utimesSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { describe, expect, it } from "vitest";
import { readGitState } from "../../src/prompt/git-state.js";

const git = (cwd: string, ...args: string[]) =>
  execFileSync("git", ["-c", "user.email=t@t", "-c", "user.name=t", "-c", "init.defaultBranch=main", ...args], { cwd, encoding: "utf8", stdio: ["ignore", "pipe", "pipe"] });

function repo(files: Record<string, string> = { "a.txt": "a\n", "src/b.js": "b\n" }): string {
  const dir = realpathSync(mkdtempSync(path.join(tmpdir(), "pod-gitstate-")));
  git(dir, "init", "-q");
  for (const [name, content] of Object.entries(files)) {
    mkdirSync(path.dirname(path.join(dir, name)), { recursive: true });
    writeFileSync(path.join(dir, name), content);
  }
  if (Object.keys(files).length > 0) {
    git(dir, "add", "-A");
    git(dir, "commit", "-qm", "init");
  }
  return dir;
}

/** What real git says, in the line's words. */
function gitSays(dir: string): string {
  const branch = (() => {
    try {
      return `branch ${git(dir, "symbolic-ref", "--short", "-q", "HEAD").trim()}`;
    } catch {
      return "detached HEAD";
    }
  })();
  const status = git(dir, "status", "--porcelain", "--untracked-files=no", "--ignore-submodules=all");
  return `${branch}, ${status === "" ? "no uncommitted changes to tracked files" : "uncommitted changes to tracked files"}`;
}

/** pod's answer must equal git's, and be the expected one (so a case cannot pass by both being wrong the same way). */
async function same(dir: string, expected: string) {
  const mine = await readGitState(dir);
  expect(mine).toBe(gitSays(dir));
  expect(mine).toBe(expected);
}

const CLEAN = "branch main, no uncommitted changes to tracked files";
const DIRTY = "branch main, uncommitted changes to tracked files";

describe("the git line, read as data, says what git says", () => {
  it("a clean checkout, also from a subdirectory", async () => {
    const dir = repo();
    await same(dir, CLEAN);
    expect(await readGitState(path.join(dir, "src"))).toBe(CLEAN);
  });

  it("not a repository", async () => {
    const dir = realpathSync(mkdtempSync(path.join(tmpdir(), "pod-gitstate-none-")));
    expect(await readGitState(dir)).toBe("not a git repository");
  });

  it("an untracked file does not count", async () => {
    const dir = repo();
    writeFileSync(path.join(dir, "new.txt"), "n\n");
    await same(dir, CLEAN);
  });

  it("a modified file: a different size, and the same size with the stat data changed", async () => {
    const dir = repo();
    writeFileSync(path.join(dir, "a.txt"), "a longer line\n");
    await same(dir, DIRTY);
    const d2 = repo();
    writeFileSync(path.join(d2, "a.txt"), "z\n");
    await same(d2, DIRTY);
  });

  it("touched but unchanged (stat data moved, content the same) is clean", async () => {
    const dir = repo();
    const later = new Date(Date.now() + 5000);
    utimesSync(path.join(dir, "a.txt"), later, later);
    writeFileSync(path.join(dir, "src/b.js"), "b\n");
    await same(dir, CLEAN);
  });

  it("a deleted file, a file replaced by a directory, a directory replaced by a symlink", async () => {
    const dir = repo();
    unlinkSync(path.join(dir, "a.txt"));
    await same(dir, DIRTY);
    const d2 = repo();
    rmSync(path.join(d2, "src"), { recursive: true });
    const elsewhere = repo({ "b.js": "b\n" });
    symlinkSync(elsewhere, path.join(d2, "src"));
    await same(d2, DIRTY);
  });

  it("a mode change", async () => {
    const dir = repo();
    chmodSync(path.join(dir, "a.txt"), 0o755);
    await same(dir, DIRTY);
  });

  it("staged changes: an added file, a removed one (git rm --cached), a staged edit restored in the work tree", async () => {
    const dir = repo();
    writeFileSync(path.join(dir, "new.txt"), "n\n");
    git(dir, "add", "new.txt");
    await same(dir, DIRTY);
    const d2 = repo();
    git(d2, "rm", "-q", "--cached", "a.txt");
    await same(d2, DIRTY);
    const d3 = repo();
    writeFileSync(path.join(d3, "a.txt"), "staged\n");
    git(d3, "add", "a.txt");
    writeFileSync(path.join(d3, "a.txt"), "a\n");
    await same(d3, DIRTY);
  });

  it("an index whose cache tree was invalidated, with the same content as HEAD, is clean (the tree is walked)", async () => {
    const dir = repo();
    writeFileSync(path.join(dir, "a.txt"), "tmp\n");
    git(dir, "add", "a.txt");
    writeFileSync(path.join(dir, "a.txt"), "a\n");
    git(dir, "add", "a.txt");
    await same(dir, CLEAN);
  });

  it("git add -N (intent to add) and a merge conflict", async () => {
    const dir = repo();
    writeFileSync(path.join(dir, "later.txt"), "l\n");
    git(dir, "add", "-N", "later.txt");
    await same(dir, DIRTY);

    const d2 = repo();
    git(d2, "checkout", "-qb", "other");
    writeFileSync(path.join(d2, "a.txt"), "other\n");
    git(d2, "commit", "-qam", "other");
    git(d2, "checkout", "-q", "main");
    writeFileSync(path.join(d2, "a.txt"), "mine\n");
    git(d2, "commit", "-qam", "mine");
    expect(() => git(d2, "merge", "-q", "other")).toThrow();
    await same(d2, DIRTY);
  });

  it("symlinks: clean, and retargeted", async () => {
    const dir = repo();
    symlinkSync("a.txt", path.join(dir, "link"));
    git(dir, "add", "link");
    git(dir, "commit", "-qm", "link");
    await same(dir, CLEAN);
    unlinkSync(path.join(dir, "link"));
    symlinkSync("src/b.js", path.join(dir, "link"));
    await same(dir, DIRTY);
  });

  it("a repository with no commits: empty, and with a staged file", async () => {
    const dir = repo({});
    await same(dir, CLEAN);
    writeFileSync(path.join(dir, "a.txt"), "a\n");
    await same(dir, CLEAN);
    git(dir, "add", "a.txt");
    await same(dir, DIRTY);
  });

  it("a detached HEAD, packed refs and a packed object store (git gc)", async () => {
    const dir = repo();
    git(dir, "gc", "-q");
    await same(dir, CLEAN);
    git(dir, "checkout", "-q", "--detach");
    await same(dir, "detached HEAD, no uncommitted changes to tracked files");
    git(dir, "checkout", "-q", "-b", "feature/x");
    writeFileSync(path.join(dir, "src/b.js"), "changed\n");
    await same(dir, "branch feature/x, uncommitted changes to tracked files");
  });

  it("a linked worktree (its .git is a gitfile)", async () => {
    const dir = repo();
    const wt = path.join(realpathSync(mkdtempSync(path.join(tmpdir(), "pod-gitstate-wt-"))), "wt");
    git(dir, "worktree", "add", "-q", "-b", "side", wt);
    await same(wt, "branch side, no uncommitted changes to tracked files");
    writeFileSync(path.join(wt, "a.txt"), "side\n");
    await same(wt, "branch side, uncommitted changes to tracked files");
  });

  it("a submodule's changes are ignored, and its gitfile is never read", async () => {
    const dir = repo();
    git(dir, "update-index", "--add", "--cacheinfo", `160000,${"1".repeat(40)},sub`);
    git(dir, "commit", "-qm", "sub");
    mkdirSync(path.join(dir, "sub"));
    // A gitfile pointing nowhere: git itself would fail on it without --ignore-submodules.
    writeFileSync(path.join(dir, "sub/.git"), "gitdir: /nonexistent/gitdir\n");
    await same(dir, CLEAN);
  });

  it("a HEAD that is not a ref or a commit is said so, not shown", async () => {
    const dir = repo();
    writeFileSync(path.join(dir, ".git/HEAD"), "ref: refs/heads/$(touch x)\n");
    expect(await readGitState(dir)).toBe("a git repository pod cannot read (HEAD is not a branch or a commit)");
  });
});
