import { existsSync } from "node:fs";
import path from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import { startFakeServer, type FakeServer } from "../fake-server/server.js";
import { makeProject, manifest, ofType, podEnv, runPod } from "../helpers/pod-process.js";

let server: FakeServer | undefined;
afterEach(async () => {
  await server?.close();
  server = undefined;
});

/**
 * Attack: the model puts shell syntax in a tool call's input, hoping a hook command
 * interpolates it. Hooks get the input as JSON on stdin and their command is fixed
 * by the manifest, so nothing the model sends is ever parsed by a shell.
 */
describe("security: hooks never run model input as shell", () => {
  it("shell syntax in tool_input and the tool name reaches the hook as data only", async () => {
    const evil = "$(touch PWNED1) `touch PWNED2`; touch PWNED3";
    server = await startFakeServer({
      turns: [
        { response: { content: [{ type: "tool_use", id: "x1", name: "Read", input: { path: evil } }, { type: "tool_use", id: "x2", name: `Read; touch PWNED4`, input: {} }], stop_reason: "tool_use" } },
        { response: { content: [{ type: "text", text: "done" }] } },
      ],
    });
    const hooks = '\n[[hooks.pre_tool_use]]\ncommand = "cat > /dev/null; echo ok"\n[[hooks.post_tool_use]]\ncommand = "cat > /dev/null"\n[[hooks.stop]]\ncommand = "cat > /dev/null"\n';
    const dir = await makeProject(manifest({ extra: hooks }));
    const r = await runPod(["run", "go"], { cwd: dir, env: podEnv(server.url) });
    expect(r.code).toBe(0);
    for (const f of ["PWNED1", "PWNED2", "PWNED3", "PWNED4"]) expect(existsSync(path.join(dir, f))).toBe(false);
    expect(ofType(r.events, "hook").length).toBeGreaterThanOrEqual(3);
  });
});
