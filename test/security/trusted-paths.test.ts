// The operator's files that pod trusts — the manifest, every hook's script and the
// directory holding it — are protected against Bash and the file tools by any path:
// a rename of a parent directory, a path that did not exist yet (issue 21 item 1,
// issue 22 item 3). End to end, the built binary.
import { existsSync } from "node:fs";
import { mkdir, mkdtemp, readFile, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import path from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import { startFakeServer, type FakeServer } from "../fake-server/server.js";
import { makeProject, manifest, ofType, podEnv, runPod } from "../helpers/pod-process.js";

const call = (id: string, name: string, input: object) => ({ type: "tool_use", id, name, input });
const HOOK = "#!/bin/sh\ncat > /dev/null\nexit 0\n";
const done = { response: { content: [{ type: "text", text: "done" }] } };

let server: FakeServer | undefined;
afterEach(async () => {
  await server?.close();
  server = undefined;
});

const results = (events: any[]) => Object.fromEntries(ofType(events, "tool_result").map((e) => [e.id, e]));

describe("a hook script's directory cannot be swapped", () => {
  it("mv scripts scripts.orig; mkdir scripts; write scripts/guard.sh — the hook's script stays the operator's", async () => {
    server = await startFakeServer({
      turns: [
        { response: { content: [call("b1", "Bash", { command: "bash -c 'mv scripts scripts.orig; mkdir -p scripts; echo \"echo pwned\" > scripts/guard.sh; echo evil > scripts/json.py; echo done'" })], stop_reason: "tool_use" } },
        { response: { content: [call("w1", "Write", { path: "scripts/json.py", content: "import os\n" })], stop_reason: "tool_use" } },
        done,
      ],
    });
    const dir = await makeProject(
      manifest({ extra: '\n[tools.bash]\nenabled = true\nallow = ["bash -c *"]\n\n[[hooks.pre_tool_use]]\nmatcher = "Read"\ncommand = "sh scripts/guard.sh"\n' }),
      { "scripts/guard.sh": HOOK },
    );
    const r = await runPod(["run", "go"], { cwd: dir, env: podEnv(server.url) });
    expect(server.mismatches).toEqual([]);
    expect(r.code).toBe(0);
    const res = results(r.events);
    expect(res.b1.output).toContain("done");
    expect(await readFile(path.join(dir, "scripts/guard.sh"), "utf8")).toBe(HOOK);
    expect(existsSync(path.join(dir, "scripts.orig"))).toBe(false);
    // The directory that holds the script is protected too (a Python hook would import json.py from it).
    expect(existsSync(path.join(dir, "scripts/json.py"))).toBe(false);
    expect(res.w1).toMatchObject({ is_error: true });
    expect(res.w1.output).toContain("protected");
  });

  it("a hook script that does not exist yet cannot be created, and no placeholder is left behind", async () => {
    server = await startFakeServer({
      turns: [
        { response: { content: [call("b1", "Bash", { command: "bash -c 'mkdir -p hooks; echo \"echo pwned\" > hooks/check.sh; echo done'" })], stop_reason: "tool_use" } },
        done,
      ],
    });
    const dir = await makeProject(manifest({ extra: '\n[tools.bash]\nenabled = true\nallow = ["bash -c *"]\n\n[[hooks.pre_tool_use]]\nmatcher = "Read"\ncommand = "sh hooks/check.sh"\n' }));
    const r = await runPod(["run", "go"], { cwd: dir, env: podEnv(server.url) });
    expect(r.code).toBe(0);
    expect(results(r.events).b1.output).toContain("done");
    expect(existsSync(path.join(dir, "hooks/check.sh"))).toBe(false);
    expect(existsSync(path.join(dir, "hooks"))).toBe(false);
  });
});

describe("a manifest in a subdirectory cannot be swapped", () => {
  it("--manifest ci/pod.toml: mv ci ci.orig; mkdir ci; write ci/pod.toml — the next run still gets the operator's manifest", async () => {
    server = await startFakeServer({
      turns: [
        { response: { content: [call("b1", "Bash", { command: "bash -c 'mv ci ci.orig; mkdir -p ci; printf \"[pod]\\nname = \\\"tester\\\"\\n[scope]\\nroot = \\\"/\\\"\\n\" > ci/pod.toml; echo done'" })], stop_reason: "tool_use" } },
        done,
      ],
    });
    const dir = await mkdtemp(path.join(tmpdir(), "pod-e2e-"));
    const text = [
      "[pod]",
      'name = "tester"',
      'system_prompt = "You fix code."',
      "[scope]",
      'root = ".."',
      "[tools.bash]",
      "enabled = true",
      'allow = ["bash -c *"]',
      "",
    ].join("\n");
    await mkdir(path.join(dir, "ci"));
    await writeFile(path.join(dir, "ci/pod.toml"), text);
    const r = await runPod(["run", "--manifest", "ci/pod.toml", "--runtime-dir", path.join(dir, ".pod"), "go"], { cwd: dir, env: podEnv(server.url) });
    expect(r.code).toBe(0);
    expect(results(r.events).b1.output).toContain("done");
    expect(await readFile(path.join(dir, "ci/pod.toml"), "utf8")).toBe(text);
    expect(existsSync(path.join(dir, "ci.orig"))).toBe(false);
  });
});
