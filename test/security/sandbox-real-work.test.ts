// The sandbox's system allowlist must not break real work (issue 22, item 8): a
// project's own test suite with its dependencies through npm and npx, git, a python
// script, make and a C compiler, all through the Bash tool in the real sandbox. No
// network: the fixture's dependencies are real npm packages copied from pod's own
// node_modules (picomatch and yaml, neither has dependencies), as `npm install`
// would have unpacked them.
import { execFileSync } from "node:child_process";
import { cp, mkdir, symlink, writeFile } from "node:fs/promises";
import path from "node:path";
import { beforeAll, describe, expect, it } from "vitest";
import { protectedPaths } from "../../src/policy/protected.js";
import { REPO_ROOT } from "../helpers/pod-process.js";
import { sandbox, tools, type Sandbox } from "../tools/helpers.js";
import { sandboxedBash } from "./sandboxed.js";

let sb: Sandbox;
let run: (command: string) => Promise<{ output: string; isError: boolean }>;

beforeAll(async () => {
  sb = await sandbox({
    "pod.toml": '[pod]\nname = "app"\n',
    "package.json": JSON.stringify({ name: "app", private: true, type: "module", scripts: { test: "node --test test/" }, dependencies: { picomatch: "*", yaml: "*" } }, null, 2),
    "config.yaml": "name: app\nglobs: ['src/**/*.js']\n",
    "src/match.js": "import picomatch from 'picomatch';\nexport const isSource = picomatch('src/**/*.js');\n",
    "test/match.test.js": [
      "import { test } from 'node:test';",
      "import assert from 'node:assert';",
      "import { readFileSync } from 'node:fs';",
      "import YAML from 'yaml';",
      "import { isSource } from '../src/match.js';",
      "test('globs from the config match', () => {",
      "  const cfg = YAML.parse(readFileSync('config.yaml', 'utf8'));",
      "  assert.deepEqual(cfg.globs, ['src/**/*.js']);",
      "  assert.ok(isSource('src/a/b.js'));",
      "  assert.ok(!isSource('test/a.js'));",
      "});",
      "",
    ].join("\n"),
    "tools/report.py": "import json, sys\nprint(json.dumps({'python': sys.version_info[0], 'ok': True}))\n",
    "native/hello.c": '#include <stdio.h>\nint main(void) { printf("hello from C\\n"); return 0; }\n',
    "native/Makefile": "hello: hello.c\n\tcc -o hello hello.c\n",
  });
  for (const dep of ["picomatch", "yaml"]) await cp(path.join(REPO_ROOT, "node_modules", dep), path.join(sb.root, "node_modules", dep), { recursive: true, dereference: true });
  await mkdir(path.join(sb.root, "node_modules/.bin"));
  await symlink("../yaml/bin.mjs", path.join(sb.root, "node_modules/.bin/yaml"));
  execFileSync("git", ["init", "-q", sb.root]);
  execFileSync("git", ["-C", sb.root, "-c", "user.email=t@example.com", "-c", "user.name=t", "add", "package.json", "src"]);
  execFileSync("git", ["-C", sb.root, "-c", "user.email=t@example.com", "-c", "user.name=t", "commit", "-qm", "init"]);
  const prot = await protectedPaths({ manifestFile: path.join(sb.root, "pod.toml"), runtimeDir: path.join(sb.root, ".pod"), scopeRoot: sb.root });
  const t = await tools(sb.root, { ...prot, deny: [".env*"], bash: { enabled: true, allow: ["bash -c *", "npm test", "git status --short", "python3 tools/report.py", "make -C native"], timeout_s: 60 } });
  run = sandboxedBash(t);
});

describe("real work runs in the sandbox", () => {
  it("npm test runs the project's suite with its dependencies", async () => {
    const r = await run("npm test");
    expect(r.isError, r.output).toBe(false);
    expect(r.output).toMatch(/# pass 1/);
    expect(r.output).toMatch(/\[exit code: 0\]$/);
  });

  it("npx runs a dependency's bin", async () => {
    const r = await run("bash -c 'npx --no-install yaml --json < config.yaml'");
    expect(r.output).toContain('"name":"app"');
    expect(r.output).toMatch(/\[exit code: 0\]$/);
  });

  it("git status reads the repository", async () => {
    const r = await run("git status --short");
    expect(r.output).toContain("?? config.yaml");
    expect(r.output).not.toContain("package.json");
    expect(r.output).toMatch(/\[exit code: 0\]$/);
  });

  it("a python script runs", async () => {
    const r = await run("python3 tools/report.py");
    expect(r.output).toContain('"ok": true');
    expect(r.output).toMatch(/\[exit code: 0\]$/);
  });

  it("make and the C compiler on PATH build and run a program", async () => {
    const r = await run("make -C native");
    expect(r.output, "this test needs make and cc on PATH").toMatch(/\[exit code: 0\]$/);
    expect((await run("bash -c './native/hello'")).output).toContain("hello from C");
  });
});
