import { runToEnd } from "../helpers/spawn.js";
import { execFileSync } from "node:child_process";
import { existsSync, readdirSync, readFileSync, statSync } from "node:fs";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startFakeServer, type FakeServer } from "../fake-server/server.js";
import { makeProject, manifest, parseJsonl, podEnv, REPO_ROOT } from "../helpers/pod-process.js";
import { schemaErrors } from "../helpers/event-schema.js";

/**
 * What a user gets from a release tarball: `npm pack` the repo, install the tarball into
 * a fresh prefix far from this checkout (no node_modules around it, no network), and run
 * a real `pod run` from the installed copy against the fake server.
 */
const pkg = JSON.parse(readFileSync(path.join(REPO_ROOT, "package.json"), "utf8"));
let work: string;
let tarball: string;
let prefix: string;
let server: FakeServer | undefined;

beforeAll(async () => {
  work = await mkdtemp(path.join(tmpdir(), "pod-pack-"));
  // --ignore-scripts: `npm test` has just built dist/; prepack would only build it again.
  const out = execFileSync("npm", ["pack", "--json", "--ignore-scripts", "--pack-destination", work], { cwd: REPO_ROOT, encoding: "utf8" });
  tarball = path.join(work, JSON.parse(out)[0].filename);
  prefix = path.join(work, "prefix");
  // Offline, with an empty cache: a package with any runtime dependency could not install.
  execFileSync("npm", ["install", "-g", "--prefix", prefix, "--no-audit", "--no-fund", tarball], {
    cwd: work,
    encoding: "utf8",
    env: { ...process.env, npm_config_offline: "true", npm_config_cache: path.join(work, "cache"), npm_config_registry: "http://127.0.0.1:9/" },
  });
}, 120_000);

afterAll(async () => {
  await server?.close();
  await rm(work, { recursive: true, force: true });
});

function walk(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((e) => (e.isDirectory() ? walk(path.join(dir, e.name)) : [path.join(dir, e.name)]));
}

describe("the package", () => {
  it("is named for what it is, has no runtime dependencies, and bin pod; the cloud SDKs are optional peers", async () => {
    expect(pkg.name).toBe("pod-ci-agent");
    expect(pkg.bin).toEqual({ pod: "dist/pod.cjs" });
    // dist/ is a bundle: every dependency is inlined, so none is installed. The cloud SDKs
    // (Bedrock, Vertex) are optional peers: never installed with pod, added by those who use them.
    expect(pkg.dependencies ?? {}).toEqual({});
    expect(pkg.optionalDependencies ?? {}).toEqual({});
    const { CLOUD_SDKS } = await import("../../src/provider/client.js");
    expect(pkg.peerDependencies).toEqual(CLOUD_SDKS);
    expect(pkg.peerDependenciesMeta).toEqual(Object.fromEntries(Object.keys(CLOUD_SDKS).map((n) => [n, { optional: true }])));
  });

  it("holds only what runs: dist bundles, notices, docs, README, LICENSE; no source maps or references to them; ≤ 1.6 MB packed", () => {
    // 1.5 MiB until issue 22 (the sandbox's own room, the protection policy, docs/security.md) added ~19 KB packed.
    expect(statSync(tarball).size).toBeLessThanOrEqual(1.6 * 1024 * 1024);
    const installed = path.join(prefix, "lib/node_modules", pkg.name);
    const files = walk(installed).map((f) => path.relative(installed, f));
    expect(files.filter((f) => f.endsWith(".map"))).toEqual([]);
    const stray = files.filter((f) => !/^(dist\/.*\.cjs|dist\/[a-z-]+\.wasm|dist\/THIRD_PARTY_NOTICES\.md|docs\/.*\.md|README\.md|LICENSE|package\.json)$/.test(f));
    expect(stray).toEqual([]);
    expect(files).toContain("LICENSE");
    expect(files).toContain("dist/grep-worker.cjs");
    // The proxy client, loaded on demand (src/provider/upstream-proxy.ts).
    expect(files).toContain("dist/undici.cjs");
    // Bash's allowlist parser (src/tools/bash/allowlist.ts).
    expect(files).toContain("dist/tree-sitter-bash.wasm");
    expect(files).toContain("dist/web-tree-sitter.wasm");
    // Nothing points at a file that is not there: no sourceMappingURL comment in a bundle,
    // no sourceMappingURL custom section in a WebAssembly module.
    for (const f of files.filter((x) => x.endsWith(".cjs"))) expect(readFileSync(path.join(installed, f), "utf8"), f).not.toMatch(/sourceMappingURL/);
    for (const f of files.filter((x) => x.endsWith(".wasm"))) {
      expect(WebAssembly.Module.customSections(new WebAssembly.Module(readFileSync(path.join(installed, f))), "sourceMappingURL"), f).toEqual([]);
    }
    // A global install is pod alone: nothing else under the prefix.
    expect(existsSync(path.join(installed, "node_modules"))).toBe(false);
    expect(readdirSync(path.join(prefix, "lib/node_modules"))).toEqual([pkg.name]);
  });

  it("ships the licence of every package bundled into dist/", () => {
    const installed = path.join(prefix, "lib/node_modules", pkg.name);
    const notices = readFileSync(path.join(installed, "dist/THIRD_PARTY_NOTICES.md"), "utf8");
    const rows = [...notices.matchAll(/^\| (\S+) \| (\S+) \| (.+) \|$/gm)].map((m) => m[1]).filter((n) => n !== "package" && n !== "---");
    // What pod's own sources import is bundled (the rest are their dependencies).
    for (const name of ["@anthropic-ai/sdk", "@modelcontextprotocol/sdk", "ajv", "chalk", "commander", "ignore", "picomatch", "proper-lockfile", "smol-toml", "undici", "zod", "web-tree-sitter", "tree-sitter-bash"]) {
      expect(rows, name).toContain(name);
    }
    // The cloud SDKs are not bundled, so they are not listed.
    expect(rows).not.toContain("@anthropic-ai/bedrock-sdk");
    // Each listed package has its licence text, or an explicit note that it ships none.
    for (const name of rows) {
      const section = notices.slice(notices.indexOf(`## ${name}@`));
      expect(section, name).toMatch(/^## \S+ \(.+\)\n\n(\S+:\n\n```|The package ships no licence file)/);
    }
  });

  it("the README states the real packed and installed sizes", () => {
    const readme = readFileSync(path.join(REPO_ROOT, "README.md"), "utf8");
    const packed = /([\d.]+) MB packed/.exec(readme);
    const installed = /([\d.]+) MB installed/.exec(readme);
    expect(packed, "README says how big the tarball is").not.toBeNull();
    expect(installed, "README says how big the install is").not.toBeNull();
    const installedBytes = walk(path.join(prefix, "lib/node_modules", pkg.name)).reduce((n, f) => n + statSync(f).size, 0);
    // Within 15%: the sizes move a little with every change; a stale claim moves more.
    expect(Math.abs(Number(packed![1]) * 1e6 - statSync(tarball).size) / statSync(tarball).size).toBeLessThan(0.15);
    expect(Math.abs(Number(installed![1]) * 1e6 - installedBytes) / installedBytes).toBeLessThan(0.15);
  });

  it("a [provider] whose SDK is not installed is a usage error naming the exact install command", async () => {
    const dir = await makeProject('[pod]\nname = "cloud"\n\n[provider]\nname = "bedrock"\nregion = "us-east-1"\n');
    const bin = path.join(prefix, "bin/pod");
    const env = podEnv(undefined, { PATH: `${path.dirname(bin)}:${path.dirname(process.execPath)}:/usr/bin:/bin`, NODE_PATH: undefined });
    const { stdout, stderr, code } = await runToEnd("pod", ["run", "hi"], { cwd: dir, env: env as NodeJS.ProcessEnv });
    expect(code).toBe(2);
    const [error] = parseJsonl(stdout);
    expect(error).toMatchObject({ type: "error", code: "invalid_input" });
    expect(error.message).toContain('npm install -g "@anthropic-ai/bedrock-sdk@^1.1.3"');
    // stdout went to a pipe: the same line for people on stderr.
    expect(stderr).toContain("pod: [provider] needs @anthropic-ai/bedrock-sdk");
  });

  it("runs a real `pod run` from the installed copy against the fake server", async () => {
    server = await startFakeServer({
      turns: [
        {
          response: {
            content: [
              { type: "tool_use", id: "toolu_1", name: "Grep", input: { pattern: "needle" } },
              { type: "tool_use", id: "toolu_2", name: "Bash", input: { command: "cat a.txt" } },
            ],
            stop_reason: "tool_use",
          },
        },
        { response: { content: [{ type: "text", text: "Found it in a.txt." }] } },
      ],
    });
    // Past Grep's 2,000-file threshold, so the installed worker bundle (dist/grep-worker.cjs) runs.
    const files: Record<string, string> = { "a.txt": "hay\nneedle\nhay\n" };
    for (let i = 0; i < 2500; i++) files[`hay/${i % 50}/f${i}.txt`] = "hay\n";
    const dir = await makeProject(manifest({ extra: '\n[tools.bash]\nenabled = true\nallow = ["cat *"]\n' }), files);
    const bin = path.join(prefix, "bin/pod");
    // PATH without this checkout's node_modules/.bin: only the installed copy and node.
    const env = podEnv(server.url, { PATH: `${path.dirname(bin)}:${path.dirname(process.execPath)}:/usr/bin:/bin`, NODE_PATH: undefined });
    const { stdout, stderr, code } = await runToEnd("pod", ["run", "find the needle"], { cwd: dir, env: env as NodeJS.ProcessEnv });
    const events = parseJsonl(stdout);
    for (const e of events) expect(schemaErrors(e)).toBeUndefined();
    expect(code).toBe(0);
    const result = events.find((e) => e.type === "tool_result" && e.name === "Grep");
    // The Grep tool ran in the installed worker bundle (no fallback to one thread) and found the file.
    expect(result).toMatchObject({ name: "Grep", is_error: false });
    expect(result.output).toContain("a.txt");
    expect(stderr).not.toContain("worker");
    // Bash ran: the installed copy found its parser's WebAssembly and the sandbox.
    expect(events.find((e) => e.type === "tool_result" && e.name === "Bash")).toMatchObject({ is_error: false, output: expect.stringContaining("needle") });
    expect(events.find((e) => e.type === "run_start")).toMatchObject({ sandbox: "bwrap" });
    expect(events.at(-1)).toMatchObject({ type: "run_end", result: "finished", turns: 2 });
    expect(execFileSync(bin, ["--version"], { encoding: "utf8", env: env as NodeJS.ProcessEnv }).trim()).toContain(pkg.version);
  });
});
