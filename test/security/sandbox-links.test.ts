// Hardlinks that existed before the run (`cp -al`, `rsync --link-dest`, a cache
// restore) are other names of a protected or denied file. The file tools refuse them
// (test/security/hardlinks.test.ts); Bash's sandbox must too (issue 22, item 3):
// no append to pod.toml through a second name, no read of a denied .env through one.
import { link, readFile } from "node:fs/promises";
import path from "node:path";
import { beforeEach, describe, expect, it } from "vitest";
import { protectedPaths } from "../../src/policy/protected.js";
import { sandbox, tools, type Sandbox } from "../tools/helpers.js";
import { sandboxedBash } from "./sandboxed.js";

const MANIFEST = '[pod]\nname = "demo"\n';
let sb: Sandbox;

beforeEach(async () => {
  sb = await sandbox({
    "pod.toml": MANIFEST,
    ".env": "API_KEY=hunter2\n",
    "secrets/key.pem": "-----BEGIN PRIVATE KEY-----\n",
    "src/a.js": "a\n",
  });
  // Made before the run: the sandbox's view is computed with them already there.
  await link(path.join(sb.root, "pod.toml"), path.join(sb.root, "src/hard.toml"));
  await link(path.join(sb.root, ".env"), path.join(sb.root, "notes.txt"));
  await link(path.join(sb.root, "secrets/key.pem"), path.join(sb.root, "src/key.txt"));
});

async function bash() {
  const prot = await protectedPaths({ manifestFile: path.join(sb.root, "pod.toml"), runtimeDir: path.join(sb.root, ".pod"), scopeRoot: sb.root });
  const t = await tools(sb.root, { ...prot, deny: [".env*", "secrets/**"], bash: { enabled: true, allow: ["bash -c *", "cat *"], timeout_s: 20 } });
  return sandboxedBash(t);
}

describe("Bash cannot use a pre-existing hardlink to a protected or denied file", () => {
  it("cannot append to pod.toml through another name", async () => {
    const run = await bash();
    const r = await run(`bash -c 'printf "[scope]\\nroot = \\"/\\"\\n" >> src/hard.toml; echo done'`);
    expect(r.output).toContain("done");
    expect(await readFile(path.join(sb.root, "pod.toml"), "utf8")).toBe(MANIFEST);
  });

  it("cannot read a denied .env or a denied directory's file through another name", async () => {
    const run = await bash();
    for (const cmd of ["cat notes.txt", "cat src/key.txt", "bash -c 'grep -r hunter2 . ; grep -r PRIVATE .'"]) {
      const r = await run(cmd);
      expect(r.output, cmd).not.toMatch(/hunter2|PRIVATE KEY/);
    }
  });
});
