import { execFileSync } from "node:child_process";
import { appendFileSync, chmodSync, mkdirSync, mkdtempSync, realpathSync, renameSync, rmSync, symlinkSync, unlinkSync, utimesSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { describe, expect, it } from "vitest";
import { compareScope } from "../../src/changes/compare.js";
import { buildPatch } from "../../src/changes/patch.js";
import { takeSnapshot, type SnapshotLimits } from "../../src/changes/snapshot.js";

/**
 * The scope's snapshot and comparison (src/changes/), in-process on real trees: the
 * rules docs/changes.md states, each one tried. The end-to-end round trip through the
 * binary is test/e2e/changes.test.ts.
 */
function scope(files: Record<string, string>, opts: { git?: boolean } = {}): string {
  const dir = realpathSync(mkdtempSync(path.join(tmpdir(), "pod-snap-")));
  for (const [rel, data] of Object.entries(files)) {
    mkdirSync(path.dirname(path.join(dir, rel)), { recursive: true });
    writeFileSync(path.join(dir, rel), data);
  }
  if (opts.git) {
    const git = (...a: string[]) => execFileSync("git", ["-c", "user.email=t@t", "-c", "user.name=t", ...a], { cwd: dir, stdio: "pipe" });
    git("init", "-q");
    git("add", "-A");
    git("commit", "-qm", "base");
  }
  return dir;
}

const changed = async (dir: string, act: () => void, rules: { deny?: string[]; hidden?: string[]; limits?: SnapshotLimits } = {}) => {
  const snap = await takeSnapshot({ root: dir, deny: rules.deny ?? [], hidden: rules.hidden ?? [] }, rules.limits);
  act();
  const result = await compareScope(snap);
  return { snap, result, list: result.files.map((f) => `${f.change} ${f.path}`) };
};

for (const git of [true, false]) {
  describe(git ? "in a git checkout" : "without git", () => {
    it("a touch, or a rewrite with the same bytes, is no change; a chmod +x is", async () => {
      const dir = scope({ "a.txt": "a\n", "b.txt": "b\n", "c.sh": "echo\n" }, { git });
      const { list } = await changed(dir, () => {
        utimesSync(path.join(dir, "a.txt"), new Date(), new Date(Date.now() + 5000));
        writeFileSync(path.join(dir, "b.txt"), "b\n");
        chmodSync(path.join(dir, "c.sh"), 0o755);
      });
      expect(list).toEqual(["modified c.sh"]);
    });

    it("denied paths and the runtime directory are never listed, not even by name", async () => {
      const dir = scope({ ".env": "SECRET=1\n", "secrets/key.pem": "k\n", "ok.txt": "o\n", ".pod/tester/status.json": "{}" }, { git });
      const { list, snap } = await changed(
        dir,
        () => {
          writeFileSync(path.join(dir, ".env"), "SECRET=2\n");
          writeFileSync(path.join(dir, "secrets/new.pem"), "n\n");
          unlinkSync(path.join(dir, "secrets/key.pem"));
          writeFileSync(path.join(dir, ".pod/tester/status.json"), "{\"x\":1}");
          writeFileSync(path.join(dir, ".env.local"), "A=1\n");
          writeFileSync(path.join(dir, "ok.txt"), "changed\n");
        },
        { deny: [".env*", "secrets/**"], hidden: [path.join(dir, ".pod")] },
      );
      expect(list).toEqual(["modified ok.txt"]);
      expect([...snap.files.keys()].filter((k) => /env|secret|\.pod/.test(k))).toEqual([]);
    });

    it(".gitignore as it was at the start decides: an ignored file changes nothing; a rule added during the run hides nothing", async () => {
      const dir = scope({ ".gitignore": "build/\n*.log\n", "src/a.js": "a\n", "keep.txt": "k\n" }, { git });
      const { list } = await changed(dir, () => {
        mkdirSync(path.join(dir, "build"));
        writeFileSync(path.join(dir, "build/out.js"), "x\n");
        writeFileSync(path.join(dir, "npm-debug.log"), "x\n");
        appendFileSync(path.join(dir, ".gitignore"), "keep.txt\nnew.txt\n");
        writeFileSync(path.join(dir, "keep.txt"), "k2\n");
        writeFileSync(path.join(dir, "new.txt"), "n\n");
        // A directory the run creates brings its own .gitignore.
        mkdirSync(path.join(dir, "pkg/node_modules/dep"), { recursive: true });
        writeFileSync(path.join(dir, "pkg/.gitignore"), "node_modules/\n");
        writeFileSync(path.join(dir, "pkg/node_modules/dep/index.js"), "x\n");
        writeFileSync(path.join(dir, "pkg/index.js"), "p\n");
      });
      expect(list).toEqual(["modified .gitignore", "modified keep.txt", "added new.txt", "added pkg/.gitignore", "added pkg/index.js"]);
    });

    it("a file that already differed before the run (or was untracked) is compared with what it held at start, and the patch applies to that", async () => {
      const dir = scope({ "a.txt": "committed\n" }, { git });
      writeFileSync(path.join(dir, "a.txt"), "edited before the run\n");
      writeFileSync(path.join(dir, "untracked.txt"), "there before\n");
      writeFileSync(path.join(dir, "same.txt"), "untouched\n");
      const { list, result, snap } = await changed(dir, () => {
        writeFileSync(path.join(dir, "a.txt"), "edited before the run\nand during\n");
        writeFileSync(path.join(dir, "untracked.txt"), "there before\nand after\n");
      });
      expect(list).toEqual(["modified a.txt", "modified untracked.txt"]);
      const patch = await buildPatch(snap, result, async () => true);
      expect(patch.missing).toEqual([]);
      expect(patch.data.toString()).toContain("@@ -1 +1,2 @@\n edited before the run\n+and during\n");
      expect(patch.stats.map((s) => [s.path, s.added, s.removed])).toEqual([["a.txt", 1, 0], ["untracked.txt", 1, 0]]);
    });

    it("a directory swapped for a symlink to outside the scope is not followed: its files are deleted, nothing outside is read", async () => {
      const outside = scope({ "a.js": "OUTSIDE-CONTENT\n" });
      const dir = scope({ "src/a.js": "inside\n" }, { git });
      const { list, result, snap } = await changed(dir, () => {
        renameSync(path.join(dir, "src"), path.join(dir, "src-old"));
        symlinkSync(outside, path.join(dir, "src"));
      });
      // Byte order, as git sorts: "-" (0x2d) before "/" (0x2f).
      expect(list).toEqual(["added src", "added src-old/a.js", "deleted src/a.js"]);
      const patch = await buildPatch(snap, result, async () => true);
      expect(patch.data.toString()).not.toContain("OUTSIDE-CONTENT");
    });

    it("past the listing limit: run_end says truncated, the files it listed are still checked exactly", async () => {
      const files: Record<string, string> = { "a/one.txt": "1\n" };
      for (let i = 0; i < 30; i++) files[`z/f${i}.txt`] = `${i}\n`;
      const dir = scope(files, { git: false });
      const limits = { maxUntracked: 10, readBudget: 1 << 20 };
      const { list, result, snap } = await changed(dir, () => writeFileSync(path.join(dir, "a/one.txt"), "changed\n"), { limits });
      expect(snap.truncated).toBe(true);
      expect(result.truncated).toBe(true);
      expect(list).toEqual(["modified a/one.txt"]);
    });
  });
}

describe("git specifics", () => {
  it("tracked files are checked even where .gitignore would ignore them; a nested repository is left alone", async () => {
    const dir = scope({ ".gitignore": "vendor/\n", "vendor/lib.js": "v1\n", "main.js": "m\n" });
    const git = (...a: string[]) => execFileSync("git", ["-c", "user.email=t@t", "-c", "user.name=t", ...a], { cwd: dir, stdio: "pipe" });
    git("init", "-q");
    git("add", "-A");
    git("add", "-f", "vendor/lib.js");
    git("commit", "-qm", "base");
    mkdirSync(path.join(dir, "nested"));
    execFileSync("git", ["init", "-q"], { cwd: path.join(dir, "nested") });
    const { list, snap } = await changed(dir, () => {
      writeFileSync(path.join(dir, "vendor/lib.js"), "v2\n");
      writeFileSync(path.join(dir, "nested/inside.txt"), "x\n");
    });
    expect(snap.git).toBeDefined();
    expect(list).toEqual(["modified vendor/lib.js"]);
  });

  it("a clean tracked file is not read at start: its content before the run comes from git's object store", async () => {
    const dir = scope({ "big.txt": "x\n".repeat(1000) }, { git: true });
    const { snap, result } = await changed(dir, () => writeFileSync(path.join(dir, "big.txt"), "x\n".repeat(999) + "y\n"));
    expect(snap.files.get("big.txt")?.bytes).toBeUndefined();
    const patch = await buildPatch(snap, result, async () => true);
    expect(patch.missing).toEqual([]);
    expect(patch.data.toString()).toContain("-x\n+y\n");
  });

  it("the scope as a subdirectory of the work tree: paths relative to the scope, the repository's ignore rules above it apply", async () => {
    const dir = scope({ ".gitignore": "*.tmp\n", "svc/a.js": "a\n", "other/b.js": "b\n" }, { git: true });
    const svc = path.join(dir, "svc");
    const { list, snap } = await changed(svc, () => {
      writeFileSync(path.join(svc, "a.js"), "a2\n");
      writeFileSync(path.join(svc, "x.tmp"), "t\n");
      writeFileSync(path.join(dir, "other/b.js"), "b2\n");
    });
    expect(snap.git?.prefix).toBe("svc");
    expect(list).toEqual(["modified a.js"]);
  });

  it("a file deleted before the run and recreated by it is added", async () => {
    const dir = scope({ "a.txt": "a\n", "keep.txt": "k\n" }, { git: true });
    rmSync(path.join(dir, "a.txt"));
    const { list } = await changed(dir, () => writeFileSync(path.join(dir, "a.txt"), "again\n"));
    expect(list).toEqual(["added a.txt"]);
  });
});
