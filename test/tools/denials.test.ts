import { link, mkdir, readFile, symlink, writeFile } from "node:fs/promises";
import path from "node:path";
import { describe, expect, it } from "vitest";
import { sandbox, tools } from "./helpers.js";

/**
 * Which tool failures are refusals by the boundary (ToolResult.denied, listed in
 * run_end.denials) and which are ordinary errors. src/tools/denial.ts tells ScopedFs's
 * refusals from its other failures by their words; this pins every one of them to its
 * side, so a reworded message in scoped-fs.ts fails here rather than silently moving.
 */
describe("denied: refusals by the boundary", () => {
  it("outside the scope, a link out of it, denied, protected, hidden, not writable, a hardlink to a protected file", async () => {
    const sb = await sandbox({ "src/a.ts": "a\n", ".env": "X=1\n", "notes.txt": "n\n", "pod.toml": "[pod]\n" });
    await symlink(sb.outside, path.join(sb.root, "out"));
    await mkdir(path.join(sb.root, ".git"));
    await mkdir(path.join(sb.root, ".pod"));
    await link(path.join(sb.root, "pod.toml"), path.join(sb.root, "src/linked.toml"));
    const t = await tools(sb.root, {
      deny: [".env*"],
      writable: ["src/**"],
      readOnly: [path.join(sb.root, "pod.toml"), path.join(sb.root, ".git")],
      hidden: [path.join(sb.root, ".pod")],
    });
    const refused = {
      "outside (..)": await t.Read!({ path: "../outside/secret.txt" }),
      "outside (absolute)": await t.Read!({ path: path.join(sb.outside, "secret.txt") }),
      "symlink out": await t.Read!({ path: "out/secret.txt" }),
      denied: await t.Read!({ path: ".env" }),
      "denied (Grep path)": await t.Grep!({ pattern: "X", path: ".env" }),
      "denied (Glob path)": await t.Glob!({ pattern: "*", path: ".env" }),
      hidden: await t.Read!({ path: ".pod/status.json" }),
      "protected manifest": await t.Write!({ path: "pod.toml", content: "" }),
      "protected .git": await t.Write!({ path: ".git/config", content: "" }),
      "not writable (Write)": await t.Write!({ path: "notes.txt", content: "x" }),
      "not writable (Edit)": await t.Edit!({ path: "notes.txt", old_string: "n", new_string: "m" }),
      "hardlink to protected": await t.Write!({ path: "src/linked.toml", content: "" }),
    };
    for (const [what, r] of Object.entries(refused)) {
      expect(r.isError, what).toBe(true);
      expect(r.denied, `${what}: ${r.output}`).toBe(true);
    }
  });

  it("the Bash allowlist and a missing sandbox", async () => {
    const sb = await sandbox();
    const t = await tools(sb.root, { bash: { allow: ["echo *"] } });
    const notAllowed = await t.Bash!({ command: "cat /etc/passwd" });
    expect(notAllowed).toMatchObject({ isError: true, denied: true });
    process.env.POD_BWRAP = "/nonexistent/bwrap-for-denials-test";
    try {
      const t2 = await tools(sb.root, { bash: { allow: ["echo *"] } });
      // detectSandbox caches by binary: this one was never probed.
      const noSandbox = await t2.Bash!({ command: "echo hi" });
      expect(noSandbox).toMatchObject({ isError: true, denied: true });
      expect(noSandbox.output).toMatch(/^sandbox_unavailable: /);
    } finally {
      delete process.env.POD_BWRAP;
    }
  });
});

describe("not denied: ordinary errors", () => {
  it("a malformed path, a missing file, a path through a file, a symlink loop, old_string not found, a stale read, a binary file", async () => {
    const sb = await sandbox({ "src/a.ts": "a\n", "bin.dat": "\0\0\0" });
    await symlink("loop", path.join(sb.root, "loop"));
    const t = await tools(sb.root);
    await t.Read!({ path: "src/a.ts" });
    await writeFile(path.join(sb.root, "src/a.ts"), "changed\n");
    const ordinary = {
      empty: await t.Read!({ path: " " }),
      nul: await t.Read!({ path: "a\0b" }),
      long: await t.Read!({ path: "x".repeat(5000) }),
      missing: await t.Read!({ path: "src/missing.ts" }),
      "through a file": await t.Read!({ path: "src/a.ts/inner" }),
      "symlink loop": await t.Read!({ path: "loop" }),
      "stale read": await t.Edit!({ path: "src/a.ts", old_string: "a", new_string: "b" }),
      binary: await t.Read!({ path: "bin.dat" }),
      "not a directory (Glob)": await t.Glob!({ pattern: "*", path: "src/a.ts" }),
    };
    await t.Read!({ path: "src/a.ts" });
    (ordinary as Record<string, unknown>)["old_string not found"] = await t.Edit!({ path: "src/a.ts", old_string: "not there", new_string: "x" });
    for (const [what, r] of Object.entries(ordinary) as [string, { isError: boolean; denied?: boolean; output: string }][]) {
      expect(r.isError, what).toBe(true);
      expect(r.denied, `${what}: ${r.output}`).toBeUndefined();
    }
    expect(await readFile(path.join(sb.root, "src/a.ts"), "utf8")).toBe("changed\n");
  });
});
