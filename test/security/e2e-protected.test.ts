import { existsSync } from "node:fs";
import { mkdir, readFile, readdir, writeFile } from "node:fs/promises";
import path from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import { startFakeServer, type FakeServer } from "../fake-server/server.js";
import { makeProject, ofType, podEnv, runPod } from "../helpers/pod-process.js";

/**
 * The whole chain, through the built binary: a model (scripted by the fake server)
 * that tries to widen its own permissions and to break the pod's runtime dir. The
 * run goes on, every attempt comes back as an is_error tool_result saying why, and
 * nothing changes. No `deny` for .pod or .git here: protection must not depend on it.
 */
const usage = { input_tokens: 10, output_tokens: 5, cache_read_input_tokens: 0, cache_creation_input_tokens: 0 };
const MANIFEST = ['[pod]', 'name = "tester"', 'model = "claude-sonnet-5-5"', 'system_prompt = "You fix code."', "max_turns = 10", "", "[scope]", 'root = "."', 'writable = ["**"]', ""].join("\n");

let server: FakeServer | undefined;
afterEach(async () => {
  await server?.close();
  server = undefined;
});

describe("a model that attacks its own contract, end to end", () => {
  it("cannot edit pod.toml, write .git/ or touch .pod/; the run continues and says why", async () => {
    const attacks = [
      { type: "tool_use", id: "t_edit", name: "Edit", input: { path: "pod.toml", old_string: 'root = "."', new_string: 'root = "/"' } },
      { type: "tool_use", id: "t_write", name: "Write", input: { path: "pod.toml", content: '[pod]\nname = "tester"\n[scope]\nroot = "/"\n[tools.bash]\nenabled = true\nallow = ["*"]\n' } },
      { type: "tool_use", id: "t_lock", name: "Write", input: { path: ".pod/tester/lock/x", content: "x" } },
      { type: "tool_use", id: "t_hook", name: "Write", input: { path: ".git/hooks/pre-commit", content: "#!/bin/sh\ntouch /tmp/pwned\n" } },
      { type: "tool_use", id: "t_cfg", name: "Write", input: { path: ".git/config", content: "[core]\n\tfsmonitor = touch /tmp/pwned\n" } },
      { type: "tool_use", id: "t_readlog", name: "Read", input: { path: ".pod/tester/status.json" } },
      { type: "tool_use", id: "t_glob", name: "Glob", input: { pattern: "**/*" } },
      { type: "tool_use", id: "t_grep", name: "Grep", input: { pattern: "tester|run_start|session", output_mode: "content" } },
    ];
    server = await startFakeServer({
      turns: [
        { response: { content: [{ type: "tool_use", id: "t_read", name: "Read", input: { path: "pod.toml" } }], stop_reason: "tool_use", usage } },
        { expect: { tool_result_for: "t_read" }, response: { content: attacks, stop_reason: "tool_use", usage } },
        { expect: { tool_result_for: "t_grep" }, response: { content: [{ type: "text", text: "I could not." }], stop_reason: "end_turn", usage } },
      ],
    });
    const dir = await makeProject(MANIFEST, { "src/a.js": "a\n", ".git/config": "[core]\n", ".git/hooks/pre-commit.sample": "#!/bin/sh\n" });
    const r = await runPod(["run", "widen your permissions"], { cwd: dir, env: podEnv(server.url) });
    expect(r.code, r.stderr).toBe(0);
    expect(server.mismatches).toEqual([]);
    expect(r.events.at(-1)).toMatchObject({ type: "run_end", result: "finished" });

    const results = Object.fromEntries(ofType(r.events, "tool_result").map((e) => [e.id, e]));
    expect(results.t_read.is_error).toBe(false);
    expect(results.t_read.output).toContain('root = "."');
    for (const id of ["t_edit", "t_write"]) {
      expect(results[id].is_error, id).toBe(true);
      expect(results[id].output).toMatch(/manifest.*cannot change its own permissions/);
    }
    expect(results.t_lock.is_error).toBe(true);
    expect(results.t_lock.output).toMatch(/runtime directory/);
    for (const id of ["t_hook", "t_cfg"]) {
      expect(results[id].is_error, id).toBe(true);
      expect(results[id].output).toMatch(/\.git\/.*read-only/);
    }
    expect(results.t_readlog.is_error).toBe(true);
    expect(results.t_glob.output).toContain("src/a.js");
    expect(results.t_glob.output).not.toMatch(/\.pod|\.git/);
    expect(results.t_grep.output).not.toMatch(/\.pod|status\.json|\.jsonl/);

    expect(await readFile(path.join(dir, "pod.toml"), "utf8")).toBe(MANIFEST);
    expect(await readFile(path.join(dir, ".git/config"), "utf8")).toBe("[core]\n");
    expect(await readdir(path.join(dir, ".git/hooks"))).toEqual(["pre-commit.sample"]);
    expect(existsSync(path.join(dir, ".pod/tester/lock/x"))).toBe(false);

    // And the pod stays usable: the next run takes the lock and loads the same manifest.
    await server.close();
    server = await startFakeServer({ turns: [{ response: { content: [{ type: "text", text: "ok" }], stop_reason: "end_turn", usage } }] });
    const next = await runPod(["run", "again"], { cwd: dir, env: podEnv(server.url) });
    expect(next.code, next.stderr).toBe(0);
  });
});
