import { execFileSync } from "node:child_process";
import { appendFileSync, linkSync, mkdirSync, mkdtempSync, readdirSync, realpathSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { describe, expect, it } from "vitest";
import { resolveOperatorFile, trackChanges } from "../../src/changes/index.js";

/**
 * A second name (hardlink) of a denied file, made before the run (a cache restore,
 * `cp -al`), is not denied by name: when it changes, its content — the denied file's —
 * must not reach the operator's --diff file (which may become a public pull request).
 * In-process: whatever makes the change (Bash through the link, an MCP server), it is
 * the patch that must not carry it.
 */
function scope(withGit: boolean): string {
  const dir = realpathSync(mkdtempSync(path.join(tmpdir(), "pod-hardlink-")));
  writeFileSync(path.join(dir, "pod.toml"), '[pod]\nname = "t"\n');
  writeFileSync(path.join(dir, ".env"), "API_TOKEN=topsecret-value\n");
  mkdirSync(path.join(dir, "docs"));
  linkSync(path.join(dir, ".env"), path.join(dir, "docs/notes.txt"));
  writeFileSync(path.join(dir, "a.txt"), "a\n");
  if (withGit) {
    // The link committed as it was: git's index then says docs/notes.txt is clean.
    const git = (...a: string[]) => execFileSync("git", ["-c", "user.email=t@t", "-c", "user.name=t", ...a], { cwd: dir, stdio: "pipe" });
    git("init", "-q");
    git("add", "a.txt", "docs/notes.txt", "pod.toml");
    git("commit", "-qm", "base");
  }
  return dir;
}

describe("--diff and hardlinks of denied files", () => {
  for (const withGit of [false, true]) {
    it(`${withGit ? "a clean tracked" : "an untracked"} hardlink of a denied .env that changes: named as not diffable, its content never written`, async () => {
      const dir = scope(withGit);
      const out = realpathSync(mkdtempSync(path.join(tmpdir(), "pod-hardlink-out-")));
      const tracker = trackChanges({ root: dir, deny: [".env*"], runtimeDir: path.join(dir, ".pod"), manifestFile: path.join(dir, "pod.toml") });
      // A tool call: it waits for the snapshot, so the changes below come after it.
      const noop = { name: "Noop", description: "", inputSchema: {} as never, run: async () => ({ output: "", isError: false, truncated: false }) };
      await tracker.gate({ tools: [noop], touchedFiles: () => ({ read: [], written: [] }) })!.tools[0]!.run({}, { signal: new AbortController().signal });
      appendFileSync(path.join(dir, "docs/notes.txt"), "appended\n");
      writeFileSync(path.join(dir, "a.txt"), "b\n");
      const r = await tracker.finish(resolveOperatorFile("--diff", path.join(out, "changes.diff")));
      expect(r.fields.files_changed).toEqual([
        { path: "a.txt", change: "modified" },
        { path: "docs/notes.txt", change: "modified" },
      ]);
      expect(r.error?.message).toMatch(/not written: 1 changed file cannot be put in the patch: docs\/notes\.txt \(.*hardlink/);
      expect(readdirSync(out)).toEqual([]);
      expect(JSON.stringify(r.fields) + (r.error?.full ?? "")).not.toContain("topsecret");
    });
  }
});
