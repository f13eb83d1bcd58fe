import { execFileSync } from "node:child_process";
import { mkdtempSync, mkdirSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { describe, expect, it } from "vitest";
import { readGitIndex } from "../../src/changes/git-index.js";
import { blobId, ObjectStore } from "../../src/changes/git-objects.js";
import { findRepo } from "../../src/changes/git-repo.js";

/** A real repository made by git, read back by pod's own readers and checked against git's answers. */
function repo(): { dir: string; git: (...a: string[]) => string } {
  const dir = mkdtempSync(path.join(tmpdir(), "pod-gitdata-"));
  const git = (...a: string[]) => execFileSync("git", ["-c", "user.email=t@t", "-c", "user.name=t", "-c", "init.defaultBranch=main", ...a], { cwd: dir, encoding: "utf8" });
  git("init", "-q");
  return { dir, git };
}

const write = (dir: string, rel: string, data: string | Buffer) => {
  mkdirSync(path.dirname(path.join(dir, rel)), { recursive: true });
  writeFileSync(path.join(dir, rel), data);
};

describe("git's object store, read without git", () => {
  for (const ofs of [true, false])
  it(`reads every blob of a repacked repository (${ofs ? "OFS_DELTA" : "REF_DELTA"} chains) and loose objects, byte for byte as git cat-file`, () => {
    const { dir, git } = repo();
    // Many versions of one big file: git gc stores most as deltas of others.
    let text = "";
    for (let v = 0; v < 12; v++) {
      text += Array.from({ length: 200 }, (_, i) => `line ${i} of version ${v}: ${"x".repeat(i % 50)}`).join("\n") + "\n";
      write(dir, "big.txt", text);
      write(dir, `v${v}.bin`, Buffer.from(Array.from({ length: 3000 }, (_, i) => (i * (v + 7)) % 256)));
      git("add", "-A");
      git("commit", "-qm", `v${v}`);
    }
    git("-c", `repack.useDeltaBaseOffset=${ofs}`, "gc", "-q", "--aggressive");
    write(dir, "loose.txt", "only loose\n");
    git("add", "loose.txt");
    const blobs = git("rev-list", "--objects", "--all").trim().split("\n").map((l) => l.split(" ")[0]!)
      .filter((oid) => git("cat-file", "-t", oid).trim() === "blob");
    const loose = git("hash-object", "loose.txt").trim();
    blobs.push(loose);
    const deltas = execFileSync("sh", ["-c", "git verify-pack -v .git/objects/pack/*.idx"], { cwd: dir, encoding: "utf8" });
    // The test is about deltas: make sure git made some.
    expect(deltas.split("\n").filter((l) => / blob .* \d+ [0-9a-f]{40}$/.test(l)).length).toBeGreaterThan(5);

    const found = findRepo(dir);
    expect(found.ok).toBe(true);
    const store = new ObjectStore(found.ok ? found.repo.objectsDir : "");
    for (const oid of blobs) {
      const expected = execFileSync("git", ["cat-file", "blob", oid], { cwd: dir });
      expect(store.readBlob(oid)?.equals(expected), oid).toBe(true);
    }
    expect(store.readBlob("0".repeat(40))).toBeUndefined();
    // A tree or commit is not a blob.
    expect(store.readBlob(git("rev-parse", "HEAD").trim())).toBeUndefined();
    store.close();
  });

  it("blobId is git hash-object", () => {
    const { dir, git } = repo();
    write(dir, "f", Buffer.from([0, 1, 2, 255, 10]));
    expect(blobId(Buffer.from([0, 1, 2, 255, 10]))).toBe(git("hash-object", "f").trim());
  });
});

describe("git's index, read without git", () => {
  for (const version of [2, 3, 4]) {
    it(`version ${version}: the same entries as git ls-files -s`, () => {
      const { dir, git } = repo();
      for (const f of ["a.txt", "src/deep/b.js", "src/deep/c.js", "naïve café.txt", "x/y/z/long-name-that-shares-a-prefix-1", "x/y/z/long-name-that-shares-a-prefix-2"]) write(dir, f, `${f}\n`);
      // Names of 4094 and 4095 bytes: the entry's flags hold a length below 0xfff, and 0xfff means "longer: find the NUL".
      // Made from inside the repository (relative names), since with the directory in front they would pass PATH_MAX.
      const deep = Array.from({ length: 20 }, (_, i) => `${String(i).padStart(2, "0")}${"d".repeat(198)}`).join("/");
      for (const len of [4094, 4095]) execFileSync("sh", ["-c", 'mkdir -p "$1" && printf x > "$1/$2"', "sh", deep, `${len}`.padEnd(len - deep.length - 1, "f")], { cwd: dir });
      git("add", "-A");
      git("update-index", "--chmod=+x", "src/deep/b.js");
      if (version === 3) {
        write(dir, "later.txt", "n\n");
        git("add", "-N", "later.txt"); // intent-to-add needs the extended flags (version 3)
        git("update-index", "--skip-worktree", "a.txt");
      }
      git("update-index", "--index-version", String(version));
      const read = readGitIndex(path.join(dir, ".git/index"));
      expect(read.ok).toBe(true);
      if (!read.ok) return;
      const index = read.index;
      const expected = git("-c", "core.quotePath=false", "ls-files", "-s").trim().split("\n").map((l) => {
        const [meta, p] = l.split("\t");
        const [mode, oid] = meta!.split(" ");
        return { path: p!, mode: parseInt(mode!, 8), oid: oid! };
      });
      expect([...index.entries.keys()].sort()).toEqual(expected.map((e) => e.path).sort());
      for (const e of expected) {
        const at = index.entries.get(e.path)!;
        expect({ path: e.path, mode: index.mode(at), oid: index.oid(at) }).toEqual(e);
      }
      if (version === 3) {
        expect(index.intentToAdd(index.entries.get("later.txt")!)).toBe(true);
        expect(index.skipWorktree(index.entries.get("a.txt")!)).toBe(true);
        expect(index.skipWorktree(index.entries.get("src/deep/c.js")!)).toBe(false);
      }
    });
  }

  it("a split index is refused (pod then works as without git), not misread", () => {
    const { dir, git } = repo();
    write(dir, "a", "a\n");
    git("add", "a");
    git("update-index", "--split-index");
    const read = readGitIndex(path.join(dir, ".git/index"));
    expect(read).toMatchObject({ ok: false, reason: expect.stringContaining("split index") });
  });

  it("finds a linked worktree's repository through its gitfile, objects in the common directory", () => {
    const { dir, git } = repo();
    write(dir, "a", "a\n");
    git("add", "a");
    git("commit", "-qm", "a");
    const wt = `${dir}-wt`;
    git("worktree", "add", "-q", wt);
    const found = findRepo(path.join(wt));
    expect(found.ok).toBe(true);
    if (!found.ok) return;
    expect(found.repo.workTree).toBe(wt);
    expect(found.repo.objectsDir).toBe(path.join(dir, ".git/objects"));
    expect(found.repo.indexFile).toBe(path.join(dir, ".git/worktrees", path.basename(wt), "index"));
    const read = readGitIndex(found.repo.indexFile);
    expect(read.ok && [...read.index.entries.keys()]).toEqual(["a"]);
  });
});
