import { chmod, mkdir, mkdtemp, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import path from "node:path";
import { describe, expect, it } from "vitest";
import { detectTestCommands, starterManifest } from "../../src/commands/init.js";
import { parseManifestText } from "../../src/manifest.js";
import { linuxSystem } from "../../src/sandbox/system.js";
import { toolchainReads } from "../../src/sandbox/toolchain.js";
import { Allowlist } from "../../src/tools/bash/allowlist.js";
import { tools } from "../tools/helpers.js";

async function project(files: Record<string, string>): Promise<string> {
  const dir = await mkdtemp(path.join(tmpdir(), "pod-init-"));
  for (const [name, content] of Object.entries(files)) await writeFile(path.join(dir, name), content);
  return dir;
}

describe("pod init's starter manifest", () => {
  it("finds the project's test commands", async () => {
    const pkg = JSON.stringify({ scripts: { test: "node --test", "test:unit": "x", build: "y" }, devDependencies: { vitest: "1" } });
    expect(await detectTestCommands(await project({ "package.json": pkg }))).toEqual(["npm test", "npm test -- *", "npm run test:unit", "npx vitest run *"]);
    expect(await detectTestCommands(await project({ "pyproject.toml": "" }))).toEqual(["pytest", "pytest *", "python -m pytest *"]);
    expect(await detectTestCommands(await project({ "go.mod": "module x" }))).toEqual(["go test ./...", "go test *"]);
    expect(await detectTestCommands(await project({ "Cargo.toml": "" }))).toEqual(["cargo test", "cargo test *"]);
    expect(await detectTestCommands(await project({ "README.md": "" }))).toEqual([]);
  });

  it("enables sandboxed Bash with those patterns, all of them valid, and denies only .env*", async () => {
    const commands = ["npm test", "npm test -- *", "npm run test:unit", "npx vitest run *", "pytest *", "go test ./...", "cargo test *"];
    const m = parseManifestText(starterManifest("demo", commands), "/p/pod.toml");
    expect(m.tools.bash).toMatchObject({ enabled: true, allow: commands, sandbox: "required", network: false });
    expect(m.scope?.deny).toEqual([".env*"]);
    expect(await new Allowlist(m.tools.bash.allow).invalidPatterns()).toEqual([]);
    expect(parseManifestText(starterManifest("demo"), "/p/pod.toml").tools.bash.enabled).toBe(false);
  });

  it("adds the read path of a toolchain outside the system dirs (a Node under /opt or ~/.nvm), and none for one in /usr", async () => {
    const base = await mkdtemp(path.join(tmpdir(), "pod-init-tc-"));
    const bin = path.join(base, "hostedtoolcache/node/20.1.0/x64/bin");
    await mkdir(bin, { recursive: true });
    await writeFile(path.join(bin, "node"), "#!/bin/sh\n");
    await chmod(path.join(bin, "node"), 0o755);
    const host = linuxSystem();
    const reads = await toolchainReads(new Set(["package.json"]), host, `/nonexistent:${bin}:/usr/bin`);
    // The install dir (…/x64), cut to its first three components, as for /opt/hostedtoolcache/node.
    expect(reads).toEqual([`/${path.join(bin, "..").split("/").filter(Boolean).slice(0, 3).join("/")}`]);
    expect(await toolchainReads(new Set(["package.json"]), host, "/usr/bin")).toEqual([]);
    expect(await toolchainReads(new Set(["README.md"]), host, bin)).toEqual([]);
    const m = parseManifestText(starterManifest("demo", ["npm test"], ["~/.nvm", "/opt/hostedtoolcache/node"]), "/p/pod.toml");
    expect(m.tools.bash.read).toEqual(["~/.nvm", "/opt/hostedtoolcache/node"]);
    expect(parseManifestText(starterManifest("demo", ["npm test"]), "/p/pod.toml").tools.bash.read).toEqual([]);
  });

  it("lets the sandboxed Bash run `npm test` of a fresh project out of the box", async () => {
    const dir = await project({
      "package.json": JSON.stringify({ name: "x", version: "1.0.0", scripts: { test: "node --test" } }),
      "a.test.js": "require('node:test')('works', () => {});\n",
    });
    const m = parseManifestText(starterManifest("demo", await detectTestCommands(dir)), path.join(dir, "pod.toml"));
    const t = await tools(dir, { deny: m.scope!.deny, bash: m.tools.bash });
    const r = await t.Bash!({ command: "npm test" });
    expect(r.output).toMatch(/# pass 1/);
    expect(r.output).toMatch(/\[exit code: 0\]$/);
  });
});
