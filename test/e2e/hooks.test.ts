import { existsSync } from "node:fs";
import { readFile } from "node:fs/promises";
import path from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import { startFakeServer, type FakeServer } from "../fake-server/server.js";
import { makeProject, manifest, ofType, podEnv, runPod } from "../helpers/pod-process.js";

const call = (id: string, name: string, input: object = {}) => ({ type: "tool_use", id, name, input });
const toolTurn = (blocks: object[], expect?: object) => ({ ...(expect ? { expect } : {}), response: { content: blocks, stop_reason: "tool_use" } });
const textTurn = (text: string, expect?: object) => ({ ...(expect ? { expect } : {}), response: { content: [{ type: "text", text }], stop_reason: "end_turn" } });
// Hooks get only the variables their entry names (they run confined, like Bash).
const hook = (kind: string, matcher: string, command: string) => `\n[[hooks.${kind}]]\nmatcher = ${JSON.stringify(matcher)}\ncommand = ${JSON.stringify(command)}\nenv = ["HOOK_LOG"]\n`;

let server: FakeServer | undefined;
afterEach(async () => {
  await server?.close();
  server = undefined;
});

/** Hook scripts append their stdin (one JSON line) to $HOOK_LOG: a file in the project (a hook writes the scope as Bash does). */
function hookLog(dir: string) {
  const file = path.join(dir, "hook-log.jsonl");
  return { file, env: { HOOK_LOG: file }, read: async () => (existsSync(file) ? (await readFile(file, "utf8")).trim().split("\n").map((l) => JSON.parse(l)) : []) };
}

const SCRIPTS = {
  "hooks/block.sh": '#!/bin/sh\ncat >> "$HOOK_LOG"; echo >> "$HOOK_LOG"\necho "writes are not allowed here" >&2\nexit 2\n',
  "hooks/pass.sh": '#!/bin/sh\ncat >> "$HOOK_LOG"; echo >> "$HOOK_LOG"\nexit 0\n',
  "hooks/json-block.sh": '#!/bin/sh\ncat > /dev/null\necho \'{"decision":"block","reason":"policy says no"}\'\n',
  "hooks/broken.sh": '#!/bin/sh\ncat > /dev/null\necho "hook crashed" >&2\nexit 1\n',
  // Sends the agent back once: blocks while stop_hook_active is false.
  "hooks/stop.sh": '#!/bin/sh\ninput=$(cat)\nprintf "%s\\n" "$input" >> "$HOOK_LOG"\ncase "$input" in *\'"stop_hook_active":false\'*) echo "you forgot to run the tests" >&2; exit 2;; esac\nexit 0\n',
  "hooks/always-stop.sh": '#!/bin/sh\ncat > /dev/null\necho "keep going" >&2\nexit 2\n',
  "notes.txt": "hello\n",
};

describe("hooks", () => {
  it("a pre_tool_use hook that exits 2 blocks the call; stderr goes back to the model; a passing hook lets the call run", async () => {
    server = await startFakeServer({
      turns: [
        toolTurn([call("w1", "Write", { path: "out.txt", content: "x" }), call("r1", "Read", { path: "notes.txt" })]),
        textTurn("ok", { tool_result_for: "r1" }),
      ],
    });
    const dir = await makeProject(
      manifest({ extra: hook("pre_tool_use", "Write|Edit", "sh hooks/block.sh") + hook("pre_tool_use", "Read", "sh ./hooks/pass.sh") + hook("post_tool_use", "", "sh hooks/pass.sh") }),
      SCRIPTS,
    );
    const log = hookLog(dir);
    const r = await runPod(["run", "go"], { cwd: dir, env: podEnv(server.url, log.env) });
    expect(server.mismatches).toEqual([]);
    expect(r.code).toBe(0);
    const results = Object.fromEntries(ofType(r.events, "tool_result").map((e) => [e.id, e]));
    expect(results.w1).toMatchObject({ is_error: true, output: "Blocked by a pre_tool_use hook: writes are not allowed here" });
    expect(existsSync(path.join(dir, "out.txt"))).toBe(false);
    expect(results.r1.is_error).toBe(false);
    expect(results.r1.output).toContain("hello");

    const hooks = ofType(r.events, "hook");
    expect(hooks.map((h) => [h.hook, h.tool_name, h.decision, h.exit_code])).toEqual([
      ["pre_tool_use", "Write", "block", 2],
      ["pre_tool_use", "Read", "allow", 0],
      ["post_tool_use", "Read", "allow", 0],
    ]);
    expect(hooks[0]).toMatchObject({ matcher: "Write|Edit", command: "sh hooks/block.sh", message: "writes are not allowed here" });
    expect(hooks.every((h) => Number.isInteger(h.duration_ms))).toBe(true);

    // What the hooks received on stdin: Claude Code's contract.
    const inputs = await log.read();
    const sessionId = r.events[0].session_id;
    expect(inputs[0]).toMatchObject({ session_id: sessionId, hook_event_name: "PreToolUse", tool_name: "Write", tool_input: { path: "out.txt", content: "x" } });
    expect(inputs[1]).toMatchObject({ hook_event_name: "PreToolUse", tool_name: "Read" });
    expect(inputs[2]).toMatchObject({ hook_event_name: "PostToolUse", tool_name: "Read", tool_response: { is_error: false } });
    expect(inputs[2].tool_response.output).toContain("hello");
  });

  it("a JSON decision on exit 0 blocks; a hook that fails is an error event and the tool still runs", async () => {
    server = await startFakeServer({
      turns: [toolTurn([call("w1", "Write", { path: "a.txt", content: "a" }), call("r1", "Read", { path: "notes.txt" })]), textTurn("ok")],
    });
    const dir = await makeProject(manifest({ extra: hook("pre_tool_use", "Write", "sh hooks/json-block.sh") + hook("pre_tool_use", "Read", "sh hooks/broken.sh") }), SCRIPTS);
    const r = await runPod(["run", "go"], { cwd: dir, env: podEnv(server.url) });
    expect(r.code).toBe(0);
    const results = Object.fromEntries(ofType(r.events, "tool_result").map((e) => [e.id, e]));
    expect(results.w1).toMatchObject({ is_error: true, output: "Blocked by a pre_tool_use hook: policy says no" });
    expect(results.r1.is_error).toBe(false);
    const hooks = ofType(r.events, "hook");
    expect(hooks[0]).toMatchObject({ decision: "block", exit_code: 0, message: "policy says no" });
    expect(hooks[1]).toMatchObject({ decision: "error", exit_code: 1, message: "hook crashed" });
  });

  it("a stop hook that exits 2 sends the agent back to work once, with its stderr as the new user message", async () => {
    server = await startFakeServer({ turns: [textTurn("all done"), textTurn("tests pass now", { last_user_text_includes: "you forgot to run the tests" })] });
    const dir = await makeProject(manifest({ extra: hook("stop", "", "sh hooks/stop.sh") }), SCRIPTS);
    const log = hookLog(dir);
    const r = await runPod(["run", "go"], { cwd: dir, env: podEnv(server.url, log.env) });
    expect(server.mismatches).toEqual([]);
    expect(r.code).toBe(0);
    expect(r.events.at(-1)).toMatchObject({ type: "run_end", result: "finished", turns: 2 });
    expect(ofType(r.events, "hook").map((h) => [h.hook, h.decision])).toEqual([
      ["stop", "block"],
      ["stop", "allow"],
    ]);
    const inputs = await log.read();
    expect(inputs.map((i) => [i.hook_event_name, i.stop_hook_active])).toEqual([
      ["Stop", false],
      ["Stop", true],
    ]);
  });

  it("a stop hook that always blocks sends the agent back at most 3 times per run", async () => {
    server = await startFakeServer({ turns: [textTurn("1"), textTurn("2"), textTurn("3"), textTurn("4")] });
    const dir = await makeProject(manifest({ extra: hook("stop", "", "sh hooks/always-stop.sh") }), SCRIPTS);
    const r = await runPod(["run", "go"], { cwd: dir, env: podEnv(server.url) });
    expect(server.mismatches).toEqual([]);
    expect(r.code).toBe(0);
    expect(r.events.at(-1)).toMatchObject({ result: "finished", turns: 4 });
    expect(ofType(r.events, "hook")).toHaveLength(4);
  });
});
