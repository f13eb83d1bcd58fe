// The walk's .gitignore handling against git's own: the files a walk lists must be
// exactly the files `git ls-files --others --exclude-standard` lists (untracked, not
// ignored) on a tree whose .gitignore files mix name rules, anchored rules, paths,
// globstars, directory-only rules and negations, at several depths.
import { execFileSync } from "node:child_process";
import { mkdirSync, writeFileSync } from "node:fs";
import path from "node:path";
import { describe, expect, it } from "vitest";
import { ScopedFs } from "../../src/tools/scoped-fs.js";
import { isIgnored, layerFromText, walkFiles, withLayer } from "../../src/tools/walk.js";
import { sandbox } from "./helpers.js";

const IGNORES: Record<string, string> = {
  ".gitignore": "*.log\nbuild/\n/top-only.txt\ndocs/*.tmp\n**/cache/\n# a comment\n\n.env*\n[cx].ba?\nreadme.md   \n\\#hash\n",
  "src/.gitignore": "gen\n*.bak\n/local.txt\n{a,b}.ts\n",
  "docs/.gitignore": "[!z]*.md\nsub/\n",
  "lib/.gitignore": "*.js\n!keep.js\nvendor/\n",
  "lib/deep/.gitignore": "!*.log\nz*\n",
};
const NAMES = ["a.ts", "b.log", "keep.js", "x.js", "top-only.txt", "local.txt", "notes.tmp", "zeta.md", ".env", ".env.local", "c.bak", "gen", "readme.md", "#hash", "{a,b}.ts", "d.bak"];
const DIRS = ["", "src", "src/gen", "src/inner", "lib", "lib/deep", "lib/vendor", "docs", "docs/sub", "build", "x/build", "x/cache", "cache/y"];

describe("the walk ignores what git ignores", () => {
  it("lists exactly git's untracked, not-ignored files", async () => {
    const sb = await sandbox();
    for (const dir of DIRS) {
      mkdirSync(path.join(sb.root, dir), { recursive: true });
      for (const name of NAMES) {
        // "gen" is a directory in src/: a file of that name elsewhere.
        if (!(dir === "src" && name === "gen")) writeFileSync(path.join(sb.root, dir, name), `${dir}/${name}\n`);
      }
    }
    for (const [rel, text] of Object.entries(IGNORES)) writeFileSync(path.join(sb.root, rel), text);
    execFileSync("git", ["init", "-q"], { cwd: sb.root });
    const git = execFileSync("git", ["ls-files", "--others", "--exclude-standard"], { cwd: sb.root, encoding: "utf8" }).split("\n").filter(Boolean).sort();

    const fs = new ScopedFs({ root: sb.root, deny: [], readOnly: [], hidden: [] });
    const walked: string[] = [];
    await walkFiles(fs, sb.root, (files) => void walked.push(...files.map((f) => f.rel)));
    expect(git.length).toBeGreaterThan(50); // the tree is not all ignored
    expect(walked.sort()).toEqual(git);
  });
});

describe("the walk's data keeps one shape", () => {
  // V8 compiles the walk for the object shapes it has seen; a layer of another shape met
  // deep in a tree (fields present or not) threw that code away in a user's call.
  it("builds every ignore layer with the same fields in the same order, whatever its rules", () => {
    const shapes = ["*.log\n", "/build\nsrc/gen/\n", "*.log\n/build\n", "*.js\n!keep.js\n", "{a,b}.ts\n", "# only a comment\n"].map((text) => Object.keys(layerFromText(text, "sub")));
    for (const keys of shapes) expect(keys).toEqual(["base", "byName", "byPath"]);
  });

  it("chains layers deepest first, as git's precedence reads them", () => {
    const root = layerFromText("*.log\n", "");
    const sub = layerFromText("!keep.log\n", "lib");
    const chain = withLayer(withLayer(undefined, root), sub);
    expect(isIgnored(chain, "lib/keep.log", false)).toBe(false); // the deeper file re-includes it
    expect(isIgnored(chain, "lib/other.log", false)).toBe(true);
    expect(isIgnored(withLayer(undefined, root), "lib/keep.log", false)).toBe(true);
    expect(withLayer(chain, undefined)).toBe(chain); // no .gitignore: the same chain
    expect(isIgnored(undefined, "x.log", false)).toBe(false);
  });
});
