// The run says which sandbox Bash uses, and fails closed (end to end, the built binary).
import { afterEach, describe, expect, it } from "vitest";
import { startFakeServer, type FakeServer } from "../fake-server/server.js";
import { makeProject, manifest, ofType, podEnv, runPod } from "../helpers/pod-process.js";

let server: FakeServer | undefined;
afterEach(async () => {
  await server?.close();
  server = undefined;
});

const usage = { input_tokens: 10, output_tokens: 5, cache_read_input_tokens: 0, cache_creation_input_tokens: 0 };
const script = () => ({
  turns: [
    { response: { content: [{ type: "tool_use", id: "toolu_env", name: "Bash", input: { command: "cat /proc/1/environ" } }], stop_reason: "tool_use", usage } },
    { expect: { tool_result_for: "toolu_env" }, response: { content: [{ type: "text", text: "done" }], stop_reason: "end_turn", usage } },
  ],
});
const bashPod = manifest({ extra: '\n[tools.bash]\nenabled = true\nallow = ["cat *"]\n' });

describe("run_start.sandbox and sandbox_unavailable", () => {
  it("run_start says bwrap, and the key is not in /proc/1/environ of the sandbox", async () => {
    server = await startFakeServer(script());
    const dir = await makeProject(bashPod);
    const env = podEnv(server.url);
    const r = await runPod(["run", "look"], { cwd: dir, env });
    expect(r.code).toBe(0);
    expect(r.events[0]).toMatchObject({ type: "run_start", sandbox: "bwrap" });
    const result = ofType(r.events, "tool_result")[0];
    expect(result.is_error).toBe(false);
    expect(result.output).toContain("PATH=");
    expect(result.output).not.toContain(env.ANTHROPIC_API_KEY!);
  });

  it("without bwrap: run_start says null, one sandbox_unavailable error, the call is refused, the run goes on", async () => {
    server = await startFakeServer(script());
    const dir = await makeProject(bashPod);
    const r = await runPod(["run", "look"], { cwd: dir, env: podEnv(server.url, { POD_BWRAP: "/nonexistent/bwrap" }) });
    expect(r.code).toBe(0);
    expect(r.events[0]).toMatchObject({ type: "run_start", sandbox: null });
    const errors = ofType(r.events, "error");
    expect(errors).toHaveLength(1);
    expect(errors[0]).toMatchObject({ code: "sandbox_unavailable" });
    expect(errors[0].message).toContain("apt-get install bubblewrap");
    const result = ofType(r.events, "tool_result")[0];
    expect(result.is_error).toBe(true);
    expect(result.output).toMatch(/^sandbox_unavailable: /);
    expect(r.events.at(-1)).toMatchObject({ type: "run_end", result: "finished" });
  });

  it("a pod without Bash says sandbox null and probes nothing", async () => {
    server = await startFakeServer({ turns: [{ response: { content: [{ type: "text", text: "hi" }], stop_reason: "end_turn", usage } }] });
    const dir = await makeProject(manifest());
    const r = await runPod(["run", "hi"], { cwd: dir, env: podEnv(server.url, { POD_BWRAP: "/nonexistent/bwrap" }) });
    expect(r.events[0]).toMatchObject({ type: "run_start", sandbox: null });
    expect(ofType(r.events, "error")).toHaveLength(0);
  });
});
