import { link, mkdir, readdir, readFile, rm, symlink, writeFile } from "node:fs/promises";
import path from "node:path";
import { beforeEach, describe, expect, it } from "vitest";
import { protectedPaths } from "../../src/policy/protected.js";
import { sandbox, tools, type Sandbox } from "../tools/helpers.js";

/**
 * SPEC "Containment": the manifest in use, `.git/` and the runtime dir are the pod's
 * own contract. The model may read the first two, never write any of them, and never
 * see the runtime dir at all — whatever `writable` says. Each case is an attack a
 * prompt-injected model would try, through the real tools on a real filesystem.
 */
const MANIFEST = '[pod]\nname = "demo"\n\n[scope]\nroot = "."\n';
const SESSION = '{"type":"user","text":"SESSION-SECRET"}\n';

let sb: Sandbox;
let t: Awaited<ReturnType<typeof tools>>;

async function snapshot(dir: string): Promise<Record<string, string>> {
  const out: Record<string, string> = {};
  const walk = async (d: string) => {
    for (const e of await readdir(d, { withFileTypes: true })) {
      const p = path.join(d, e.name);
      if (e.isDirectory()) {
        out[path.relative(dir, p) + "/"] = "";
        await walk(p);
      } else if (e.isFile()) out[path.relative(dir, p)] = await readFile(p, "utf8");
    }
  };
  await walk(dir);
  return out;
}

beforeEach(async () => {
  sb = await sandbox({
    "pod.toml": MANIFEST,
    "src/app.js": "console.log(1)\n",
    ".git/config": "[core]\n\tbare = false\n",
    ".git/HEAD": "ref: refs/heads/main\n",
    ".git/hooks/pre-commit.sample": "#!/bin/sh\n",
    ".pod/demo/status.json": '{"status":"idle"}\n',
    ".pod/demo/sessions/s1.jsonl": SESSION,
  });
  await mkdir(path.join(sb.root, ".pod/demo/lock"));
  // As `pod run` computes them: from where the pod is, not from the manifest.
  const prot = await protectedPaths({ manifestFile: path.join(sb.root, "pod.toml"), runtimeDir: path.join(sb.root, ".pod"), scopeRoot: sb.root });
  t = await tools(sb.root, prot);
});

describe("the model cannot change its own contract", () => {
  it("cannot Edit or Write pod.toml (root = \"/\"), but can read it", async () => {
    const r = await t.Read!({ path: "pod.toml" });
    expect(r.isError).toBe(false);
    expect(r.output).toContain('root = "."');
    const e = await t.Edit!({ path: "pod.toml", old_string: 'root = "."', new_string: 'root = "/"' });
    expect(e.isError).toBe(true);
    expect(e.output).toMatch(/manifest/);
    expect(e.output).toMatch(/cannot change its own permissions/);
    const w = await t.Write!({ path: "pod.toml", content: '[pod]\nname = "demo"\n[scope]\nroot = "/"\n' });
    expect(w.isError).toBe(true);
    expect(w.output).toMatch(/manifest/);
    for (const p of ["./pod.toml", "src/../pod.toml", path.join(sb.root, "pod.toml")]) {
      expect((await t.Write!({ path: p, content: "x" })).isError, p).toBe(true);
    }
    expect(await readFile(path.join(sb.root, "pod.toml"), "utf8")).toBe(MANIFEST);
  });

  it("cannot write pod.toml through a symlink or a hardlink inside the scope", async () => {
    await symlink(path.join(sb.root, "pod.toml"), path.join(sb.root, "innocent.toml"));
    await symlink(".", path.join(sb.root, "here"));
    await link(path.join(sb.root, "pod.toml"), path.join(sb.root, "hard.toml"));
    for (const p of ["innocent.toml", "here/pod.toml", "hard.toml"]) {
      await t.Read!({ path: p });
      const w = await t.Write!({ path: p, content: "[scope]\nroot = \"/\"\n" });
      expect(w.isError, `Write ${p}: ${w.output}`).toBe(true);
      const e = await t.Edit!({ path: p, old_string: 'root = "."', new_string: 'root = "/"' });
      expect(e.isError, `Edit ${p}: ${e.output}`).toBe(true);
    }
    expect(await readFile(path.join(sb.root, "pod.toml"), "utf8")).toBe(MANIFEST);
  });

  it("cannot write .git/config (core.fsmonitor) nor create a hook, but can read .git", async () => {
    expect((await t.Read!({ path: ".git/config" })).output).toContain("bare = false");
    const e = await t.Edit!({ path: ".git/config", old_string: "bare = false", new_string: "bare = false\n\tfsmonitor = touch /tmp/pwned" });
    expect(e.isError).toBe(true);
    expect(e.output).toMatch(/\.git/);
    const w = await t.Write!({ path: ".git/config", content: "[core]\n\tfsmonitor = touch /tmp/pwned\n" });
    expect(w.isError).toBe(true);
    const hook = await t.Write!({ path: ".git/hooks/pre-commit", content: "#!/bin/sh\ntouch /tmp/pwned\n" });
    expect(hook.isError).toBe(true);
    expect(hook.output).toMatch(/\.git/);
    await symlink(path.join(sb.root, ".git/hooks"), path.join(sb.root, "hooks-alias"));
    expect((await t.Write!({ path: "hooks-alias/post-checkout", content: "#!/bin/sh\n" })).isError).toBe(true);
    expect((await t.Write!({ path: ".git/brand/new/file", content: "x" })).isError).toBe(true);
    expect((await t.Write!({ path: ".git", content: "gitdir: /tmp/evil\n" })).isError).toBe(true);
    expect(await readdir(path.join(sb.root, ".git/hooks"))).toEqual(["pre-commit.sample"]);
    expect(await readFile(path.join(sb.root, ".git/config"), "utf8")).toBe("[core]\n\tbare = false\n");
  });

  it("a missing .git cannot be created either", async () => {
    const sb2 = await sandbox({ "a.txt": "a\n" });
    const prot = await protectedPaths({ manifestFile: path.join(sb2.root, "pod.toml"), runtimeDir: path.join(sb2.root, ".pod"), scopeRoot: sb2.root });
    const t2 = await tools(sb2.root, prot);
    expect((await t2.Write!({ path: ".git/hooks/pre-commit", content: "x" })).isError).toBe(true);
    expect((await t2.Write!({ path: ".pod/demo/lock/x", content: "x" })).isError).toBe(true);
    expect(await readdir(sb2.root)).toEqual(["a.txt"]);
  });

  it("a nested repository's .git (config, hooks) is read-only too, even one the model creates", async () => {
    await mkdir(path.join(sb.root, "vendor/lib/.git/hooks"), { recursive: true });
    await writeFile(path.join(sb.root, "vendor/lib/.git/config"), "[core]\n");
    expect((await t.Read!({ path: "vendor/lib/.git/config" })).isError).toBe(false);
    for (const p of ["vendor/lib/.git/config", "vendor/lib/.git/hooks/pre-commit", "fresh/.git/config", "fresh/.GIT/hooks/post-checkout"]) {
      const w = await t.Write!({ path: p, content: "[core]\n\tfsmonitor = touch /tmp/pwned\n" });
      expect(w.isError, p).toBe(true);
      expect(w.output).toMatch(/\.git\/.*read-only/);
    }
    expect(await readFile(path.join(sb.root, "vendor/lib/.git/config"), "utf8")).toBe("[core]\n");
    expect((await t.Write!({ path: "vendor/lib/.gitignore", content: "x\n" })).isError).toBe(false);
  });

  it("a runtime dir not created yet under a symlinked path is protected all the same", async () => {
    const alias = path.join(sb.base, "alias");
    await symlink(sb.root, alias);
    const sb2root = sb.root;
    await rm(path.join(sb2root, ".pod"), { recursive: true });
    const prot = await protectedPaths({ manifestFile: path.join(alias, "pod.toml"), runtimeDir: path.join(alias, ".pod"), scopeRoot: sb2root });
    const t2 = await tools(sb2root, prot);
    expect((await t2.Write!({ path: ".pod/demo/lock/x", content: "x" })).isError).toBe(true);
    await t2.Read!({ path: "pod.toml" });
    expect((await t2.Write!({ path: "pod.toml", content: "x" })).isError).toBe(true);
  });

  it("protection wins over `writable`", async () => {
    const prot = await protectedPaths({ manifestFile: path.join(sb.root, "pod.toml"), runtimeDir: path.join(sb.root, ".pod"), scopeRoot: sb.root });
    const t2 = await tools(sb.root, { ...prot, writable: ["**", "*", ".git/**", ".pod/**", "pod.toml"] });
    await t2.Read!({ path: "pod.toml" });
    expect((await t2.Write!({ path: "pod.toml", content: "x" })).isError).toBe(true);
    expect((await t2.Write!({ path: ".git/hooks/pre-commit", content: "x" })).isError).toBe(true);
    expect((await t2.Write!({ path: ".pod/demo/lock/x", content: "x" })).isError).toBe(true);
    expect((await t2.Write!({ path: "src/ok.js", content: "x" })).isError).toBe(false);
  });
});

describe("the runtime dir is invisible", () => {
  it("cannot write into .pod/<name>/lock/ (which would break every later run)", async () => {
    const before = await snapshot(path.join(sb.root, ".pod"));
    for (const p of [".pod/demo/lock/x", ".pod/demo/lock", ".pod/demo/status.json", ".pod/demo/sessions/s1.jsonl", ".pod/new.txt", "src/../.pod/demo/lock/y"]) {
      const w = await t.Write!({ path: p, content: "x" });
      expect(w.isError, p).toBe(true);
      expect(w.output, p).toMatch(/runtime/);
    }
    await symlink(path.join(sb.root, ".pod/demo"), path.join(sb.root, "rt"));
    expect((await t.Write!({ path: "rt/lock/z", content: "x" })).isError).toBe(true);
    expect(await snapshot(path.join(sb.root, ".pod"))).toEqual(before);
  });

  it("Read, Glob and Grep never show the session log", async () => {
    for (const p of [".pod/demo/sessions/s1.jsonl", ".pod/demo/status.json", ".pod", "./.pod/demo/../demo/sessions/s1.jsonl"]) {
      const r = await t.Read!({ path: p });
      expect(r.isError, p).toBe(true);
      expect(r.output).not.toContain("SESSION-SECRET");
    }
    await symlink(path.join(sb.root, ".pod/demo/sessions/s1.jsonl"), path.join(sb.root, "log-alias"));
    expect((await t.Read!({ path: "log-alias" })).isError).toBe(true);

    const g = await t.Glob!({ pattern: "**/*" });
    expect(g.output).toContain("src/app.js");
    expect(g.output).not.toMatch(/\.pod|s1\.jsonl|status\.json/);
    expect((await t.Glob!({ pattern: "**/*.jsonl" })).output).not.toContain("s1.jsonl");
    expect((await t.Glob!({ pattern: "*", path: ".pod" })).isError).toBe(true);
    expect((await t.Glob!({ pattern: "**", path: ".pod/demo/sessions" })).isError).toBe(true);

    const grep = await t.Grep!({ pattern: "SESSION-SECRET", output_mode: "content" });
    expect(grep.output).not.toContain("SESSION-SECRET\"");
    expect(grep.output).toMatch(/^No matches/);
    expect((await t.Grep!({ pattern: "SESSION", path: ".pod" })).isError).toBe(true);
    expect((await t.Grep!({ pattern: "SESSION", path: ".pod/demo/sessions/s1.jsonl" })).isError).toBe(true);
    expect((await t.Grep!({ pattern: "idle", glob: ".pod/**" })).output).toMatch(/^No matches/);
  });

  it("a runtime dir given elsewhere (--runtime-dir) leaves the scope's own .pod alone", async () => {
    const elsewhere = path.join(sb.base, "runtime");
    await mkdir(elsewhere);
    const prot = await protectedPaths({ manifestFile: path.join(sb.root, "pod.toml"), runtimeDir: elsewhere, scopeRoot: sb.root });
    const t2 = await tools(sb.root, prot);
    // .pod/ in the scope is then just a directory; the real runtime dir is outside the scope anyway.
    expect((await t2.Read!({ path: ".pod/demo/status.json" })).isError).toBe(false);
    expect((await t2.Read!({ path: path.join(elsewhere, "x") })).isError).toBe(true);
    await writeFile(path.join(elsewhere, "x"), "x");
    expect((await t2.Write!({ path: path.join(elsewhere, "y"), content: "x" })).isError).toBe(true);
  });
});
