import { execFileSync } from "node:child_process";
import { chmodSync, mkdtempSync, realpathSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { describe, expect, it } from "vitest";
import { compareScope } from "../../src/changes/compare.js";
import { buildPatch, quotePath } from "../../src/changes/patch.js";
import { takeSnapshot } from "../../src/changes/snapshot.js";

/** pod's patch against git's own `git diff --binary --full-index` for the same changes, byte for byte. */
describe("the patch is what git diff writes", () => {
  it("text hunks, a new text and a new binary file, a chmod, quoted and spaced names", async () => {
    const dir = realpathSync(mkdtempSync(path.join(tmpdir(), "pod-patch-")));
    const w = (rel: string, data: string | Buffer) => writeFileSync(path.join(dir, rel), data);
    const git = (...a: string[]) => execFileSync("git", ["-c", "user.email=t@t", "-c", "user.name=t", "-c", "core.quotePath=true", ...a], { cwd: dir });
    git("init", "-q");
    w("a.txt", "one\ntwo\nthree\nfour\nfive\nsix\nseven\neight\nnine\nten\n");
    w("with space.txt", "x\n");
    w("tëst\ttab.txt", "u\n");
    w("run.sh", "#!/bin/sh\n");
    git("add", "-A");
    git("commit", "-qm", "base");
    const snap = await takeSnapshot({ root: dir, deny: [], hidden: [] });
    w("a.txt", "one\nTWO\nthree\nfour\nfive\nsix\nseven\neight\nNINE\nten\n");
    w("with space.txt", "y\n");
    w("tëst\ttab.txt", "v\n");
    chmodSync(path.join(dir, "run.sh"), 0o755);
    w("new.bin", Buffer.from("\x00\x01\x02binary", "latin1"));
    w("new file.txt", "n\n");
    const patch = await buildPatch(snap, await compareScope(snap), async () => true);
    expect(patch.missing).toEqual([]);
    // git shows untracked files once they are marked intent-to-add.
    git("add", "-N", "new.bin", "new file.txt");
    const expected = git("diff", "--binary", "--full-index");
    expect(patch.data.toString("latin1")).toBe(expected.toString("latin1"));
    expect(patch.stats).toEqual([
      { path: "a.txt", change: "modified", binary: false, added: 2, removed: 2 },
      { path: "new file.txt", change: "added", binary: false, added: 1, removed: 0 },
      { path: "new.bin", change: "added", binary: true, added: null, removed: null },
      { path: "run.sh", change: "modified", binary: false, added: 0, removed: 0 },
      { path: "tëst\ttab.txt", change: "modified", binary: false, added: 1, removed: 1 },
      { path: "with space.txt", change: "modified", binary: false, added: 1, removed: 1 },
    ]);
  });

  it("quotes names as git does (core.quotePath)", () => {
    expect(quotePath("a/plain name.txt")).toBe("a/plain name.txt");
    expect(quotePath('a/q"uote\\back')).toBe('"a/q\\"uote\\\\back"');
    expect(quotePath("a/new\nline\x01")).toBe('"a/new\\nline\\001"');
    expect(quotePath("a/é")).toBe('"a/\\303\\251"');
  });
});
