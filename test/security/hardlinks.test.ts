import { link, readFile } from "node:fs/promises";
import path from "node:path";
import { beforeEach, describe, expect, it } from "vitest";
import { protectedPaths } from "../../src/policy/protected.js";
import { sandbox, tools, type Sandbox } from "../tools/helpers.js";

/**
 * `deny` and the protected paths are names; a hardlink is a second name for the same
 * file. Reading a denied file's inode under an innocent name must be refused.
 */
let sb: Sandbox;

beforeEach(async () => {
  sb = await sandbox({
    "pod.toml": '[pod]\nname = "demo"\n',
    ".env": "API_KEY=hunter2\n",
    "secrets/key.pem": "-----BEGIN PRIVATE KEY-----\n",
    "src/a.js": "a\n",
    ".pod/demo/sessions/s1.jsonl": '{"text":"SESSION-SECRET"}\n',
  });
});

async function box(extra: { bash?: boolean } = {}) {
  const prot = await protectedPaths({ manifestFile: path.join(sb.root, "pod.toml"), runtimeDir: path.join(sb.root, ".pod"), scopeRoot: sb.root });
  return tools(sb.root, {
    ...prot,
    deny: [".env*", "secrets/**"],
    ...(extra.bash ? { bash: { enabled: true, allow: ["ln *"], sandbox: "off" } } : {}),
  });
}

describe("hardlinks cannot get around deny or the runtime dir", () => {
  it("Read of a hardlink to a denied file is refused", async () => {
    await link(path.join(sb.root, ".env"), path.join(sb.root, "notes.txt"));
    await link(path.join(sb.root, "secrets/key.pem"), path.join(sb.root, "src/key.txt"));
    const t = await box();
    for (const p of ["notes.txt", "src/key.txt"]) {
      const r = await t.Read!({ path: p });
      expect(r.isError, `${p}: ${r.output}`).toBe(true);
      expect(r.output).toMatch(/hardlink/);
      expect(r.output).not.toMatch(/hunter2|PRIVATE/);
    }
  });

  // Defense in depth: today the tracker also refuses (the Read was refused), but Edit
  // reads the file to match old_string, so its answer must not depend on that alone.
  it("Edit of a hardlink to a denied file is refused (it would read the file to match old_string)", async () => {
    await link(path.join(sb.root, ".env"), path.join(sb.root, "notes.txt"));
    const t = await box();
    const e = await t.Edit!({ path: "notes.txt", old_string: "hunter2", new_string: "x" });
    expect(e.isError).toBe(true);
    expect(e.output).not.toMatch(/occurs|Edited/);
    expect(await readFile(path.join(sb.root, ".env"), "utf8")).toBe("API_KEY=hunter2\n");
  });

  it("Read of a hardlink to a session log in the runtime dir is refused", async () => {
    await link(path.join(sb.root, ".pod/demo/sessions/s1.jsonl"), path.join(sb.root, "log.txt"));
    const t = await box();
    const r = await t.Read!({ path: "log.txt" });
    expect(r.isError).toBe(true);
    expect(r.output).not.toContain("SESSION-SECRET");
  });

  it("Grep does not search a hardlink to a denied file or a session log", async () => {
    await link(path.join(sb.root, ".env"), path.join(sb.root, "notes.txt"));
    await link(path.join(sb.root, ".pod/demo/sessions/s1.jsonl"), path.join(sb.root, "log.txt"));
    const t = await box();
    for (const mode of ["content", "files_with_matches", "count"]) {
      const g = await t.Grep!({ pattern: "hunter2|SESSION-SECRET", output_mode: mode });
      expect(g.output, mode).toBe("No matches for hunter2|SESSION-SECRET.");
    }
    expect((await t.Grep!({ pattern: "hunter2", path: "notes.txt", output_mode: "content" })).output).toBe("No matches for hunter2.");
  });

  it("a hardlink between two ordinary files still reads", async () => {
    await link(path.join(sb.root, "src/a.js"), path.join(sb.root, "src/b.js"));
    const t = await box();
    const r = await t.Read!({ path: "src/b.js" });
    expect(r.isError).toBe(false);
    expect(r.output).toContain("a");
  });

  it("a link made by a command after an earlier check is still caught (the inode sets are recomputed after Bash)", async () => {
    await link(path.join(sb.root, "src/a.js"), path.join(sb.root, "src/b.js"));
    const t = await box({ bash: true });
    expect((await t.Read!({ path: "src/b.js" })).isError).toBe(false); // the sets are now computed
    const b = await t.Bash!({ command: "ln secrets/key.pem src/c.txt" });
    expect(b.isError, b.output).toBe(false);
    const r = await t.Read!({ path: "src/c.txt" });
    expect(r.isError).toBe(true);
    expect(r.output).not.toContain("PRIVATE");
  });
});
