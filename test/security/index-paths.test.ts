import { createHash } from "node:crypto";
import { execFileSync } from "node:child_process";
import { mkdirSync, mkdtempSync, readFileSync, realpathSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { describe, expect, it } from "vitest";
import { takeSnapshot } from "../../src/changes/snapshot.js";
import { readGitState } from "../../src/prompt/git-state.js";

/**
 * pod reads git's index as data (src/changes/git-index.ts) and names each entry's file
 * itself. An index is git's, but it comes with a checkout pod did not make: an entry
 * whose path climbs out of the work tree (`../x`) must not make pod stat, read or keep
 * a file outside the scope (a --diff patch would carry it).
 */
function repoWithClimbingEntry(): { scope: string; outside: string } {
  const parent = realpathSync(mkdtempSync(path.join(tmpdir(), "pod-index-paths-")));
  const scope = path.join(parent, "repo");
  mkdirSync(path.join(scope, "ab"), { recursive: true });
  // Same length as "../secret.txt", so the entry can be rewritten in place.
  writeFileSync(path.join(scope, "ab/secret.txt"), "inside\n");
  const git = (...a: string[]) => execFileSync("git", ["-c", "user.email=t@t", "-c", "user.name=t", ...a], { cwd: scope, stdio: "pipe" });
  git("init", "-q");
  git("add", "-A");
  git("commit", "-qm", "base");
  const indexFile = path.join(scope, ".git/index");
  const index = readFileSync(indexFile);
  const at = index.indexOf("ab/secret.txt");
  expect(at).toBeGreaterThan(0);
  index.write("../secret.txt", at, "latin1");
  // The trailing checksum, made right, as a hostile tool that wrote the index would.
  createHash("sha1").update(index.subarray(0, index.length - 20)).digest().copy(index, index.length - 20);
  writeFileSync(indexFile, index);
  const outside = path.join(parent, "secret.txt");
  writeFileSync(outside, "TOP SECRET outside the scope\n");
  return { scope, outside };
}

describe("an index entry that climbs out of the work tree", () => {
  it("the snapshot never names it: nothing outside the scope is stat'ed, read or kept", async () => {
    const { scope } = repoWithClimbingEntry();
    const snap = await takeSnapshot({ root: scope, deny: [], hidden: [] });
    expect(snap.git).toBeDefined();
    const names = [...snap.files.keys()];
    expect(names.filter((n) => n.startsWith(".."))).toEqual([]);
    for (const e of snap.files.values()) expect(e.bytes?.toString() ?? "").not.toContain("TOP SECRET");
    expect(snap.trackedAbsent.filter((n) => n.startsWith(".."))).toEqual([]);
  });

  it("the git line says the state is unknown rather than trust it", async () => {
    const { scope } = repoWithClimbingEntry();
    expect(await readGitState(scope)).toMatch(/working tree state unknown/);
  });
});
