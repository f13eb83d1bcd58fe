import { existsSync } from "node:fs";
import { readFile } from "node:fs/promises";
import path from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import { startFakeServer, type FakeServer } from "../fake-server/server.js";
import { apiHistoryProblems, withoutCacheControl } from "../helpers/api-history.js";
import { collect, makeProject, manifest, ofType, podEnv, runPod, spawnPod } from "../helpers/pod-process.js";
import type { ChildProcess } from "node:child_process";

let server: FakeServer | undefined;
afterEach(async () => {
  await server?.close();
  server = undefined;
});

const usage = { input_tokens: 10, output_tokens: 5, cache_read_input_tokens: 0, cache_creation_input_tokens: 0 };
const text = (t: string, delivery?: object) => ({ response: { content: [{ type: "text", text: t }], stop_reason: "end_turn", usage }, ...(delivery ? { delivery } : {}) });
const toolTurn = (id: string, name: string, input: object, extra: object = {}) => ({
  response: { content: [{ type: "tool_use", id, name, input }], stop_reason: "tool_use", usage },
  ...extra,
});
const readStatus = async (dir: string, name = "tester") => JSON.parse(await readFile(path.join(dir, `.pod/${name}/status.json`), "utf8"));

/** Resolves when the child's stdout has printed an event matching `pred`. */
function waitForEvent(child: ChildProcess, pred: (e: any) => boolean): Promise<void> {
  return new Promise((resolve, reject) => {
    let buf = "";
    const onData = (d: Buffer) => {
      buf += d.toString();
      const lines = buf.split("\n");
      buf = lines.pop()!;
      for (const l of lines) if (l && pred(JSON.parse(l))) return resolve();
    };
    child.stdout!.on("data", onData);
    child.on("close", () => reject(new Error("process ended before the event")));
  });
}

const slow = { text_split: 2, chunk_bytes: 30, delay_ms: 25 };
const bashManifest = manifest({ extra: '\n[tools.bash]\nenabled = true\nallow = ["sleep *", "echo *"]\n' });

describe("cancel and resume", () => {
  it("pod cancel mid-text pauses (exit 10) with a consistent history, and resume finishes", async () => {
    server = await startFakeServer({ turns: [text("This is a long answer that streams slowly. ".repeat(8), slow), text("Picked up again and done.")] });
    const dir = await makeProject(manifest({ scope: false }));
    const env = podEnv(server.url);
    const child = spawnPod(["run", "talk"], { cwd: dir, env });
    const done = collect(child, ["run"]);
    await waitForEvent(child, (e) => e.type === "text_delta");
    const cancel = await runPod(["cancel"], { cwd: dir, env });
    expect(cancel.code).toBe(0);
    expect(cancel.events).toEqual([]);
    const r = await done;
    expect(r.code).toBe(10);
    expect(r.events.at(-1)).toMatchObject({ type: "run_end", result: "paused", turns: 0 });
    expect(await readStatus(dir)).toMatchObject({ status: "paused", last_result: "paused", pending: null });
    expect((await readStatus(dir)).pid).toBeUndefined();

    const resumed = await runPod(["resume"], { cwd: dir, env });
    expect(resumed.code).toBe(0);
    expect(resumed.events[0]).toMatchObject({ type: "run_start", mode: "resume" });
    expect(resumed.events.at(-1)).toMatchObject({ result: "finished", turns: 1 });
    const req = server.requests.at(-1)!.body;
    expect(apiHistoryProblems(req.messages)).toEqual([]);
    expect(withoutCacheControl(req.messages)).toEqual([{ role: "user", content: [{ type: "text", text: "talk" }] }]);
  });

  it("cancel mid-tool-call stops the command, answers the call, and resume continues", async () => {
    server = await startFakeServer({
      // Longer than the test's timeout: the run ends in time only if the cancel stops it.
      turns: [toolTurn("toolu_sleep", "Bash", { command: "sleep 300" }), { expect: { tool_result_for: "toolu_sleep" }, ...text("The sleep was cancelled; moving on.") }],
    });
    const dir = await makeProject(bashManifest);
    const env = podEnv(server.url);
    const child = spawnPod(["run", "sleep a while"], { cwd: dir, env });
    const done = collect(child, ["run"]);
    await waitForEvent(child, (e) => e.type === "tool_call_done");
    await new Promise((r) => setTimeout(r, 200));
    expect((await runPod(["cancel"], { cwd: dir, env })).code).toBe(0);
    const r = await done;
    expect(r.code).toBe(10);
    const result = ofType(r.events, "tool_result")[0];
    expect(result).toMatchObject({ id: "toolu_sleep", is_error: true });
    expect(result.output).toMatch(/cancelled/);
    expect(r.events.at(-1)).toMatchObject({ result: "paused", turns: 1 });

    const resumed = await runPod(["resume"], { cwd: dir, env });
    expect(resumed.code).toBe(0);
    expect(server.mismatches).toEqual([]);
    expect(apiHistoryProblems(server.requests.at(-1)!.body.messages)).toEqual([]);
  });

  for (const signal of ["SIGINT", "SIGTERM"] as const) {
    it(`${signal} to the running process behaves like cancel`, async () => {
      server = await startFakeServer({ turns: [text("Streaming on and on. ".repeat(10), slow), text("Resumed.")] });
      const dir = await makeProject(manifest({ scope: false }));
      const env = podEnv(server.url);
      const child = spawnPod(["run", "go"], { cwd: dir, env });
      const done = collect(child, ["run"]);
      await waitForEvent(child, (e) => e.type === "text_delta");
      child.kill(signal);
      const r = await done;
      expect(r.code).toBe(10);
      expect(r.events.at(-1)).toMatchObject({ type: "run_end", result: "paused" });
      expect((await readStatus(dir)).status).toBe("paused");
      expect((await runPod(["resume"], { cwd: dir, env })).code).toBe(0);
    });
  }
});

describe("approval gate", () => {
  const askManifest = manifest({ extra: '\n[tools]\nask = ["Write"]\n' });

  it("pauses before a gated call; --approve runs it and continues", async () => {
    server = await startFakeServer({
      turns: [toolTurn("toolu_w", "Write", { path: "notes.txt", content: "approved content\n" }), { expect: { tool_result_for: "toolu_w" }, ...text("Wrote it.") }],
    });
    const dir = await makeProject(askManifest);
    const env = podEnv(server.url);
    const r = await runPod(["run", "write notes"], { cwd: dir, env });
    expect(r.code).toBe(10);
    expect(r.events.at(-1)).toMatchObject({ result: "paused" });
    expect(ofType(r.events, "tool_result")).toEqual([]);
    const status = await readStatus(dir);
    expect(status).toMatchObject({ status: "paused", pending: { id: "toolu_w", name: "Write", input: { path: "notes.txt" } } });
    expect(existsSync(path.join(dir, "notes.txt"))).toBe(false);

    const bare = await runPod(["resume"], { cwd: dir, env });
    expect(bare.code).toBe(2);
    expect(bare.events).toEqual([expect.objectContaining({ type: "error", code: "invalid_input" })]);
    expect(bare.events[0].message).toMatch(/--approve/);

    const approved = await runPod(["resume", "--approve"], { cwd: dir, env });
    expect(approved.code).toBe(0);
    expect(ofType(approved.events, "tool_result")[0]).toMatchObject({ id: "toolu_w", name: "Write", is_error: false });
    expect(await readFile(path.join(dir, "notes.txt"), "utf8")).toBe("approved content\n");
    expect(await readStatus(dir)).toMatchObject({ status: "idle", pending: null, last_result: "finished" });
    expect(server.mismatches).toEqual([]);
  });

  it("--deny sends the reason to the model as an error result and continues", async () => {
    server = await startFakeServer({
      turns: [toolTurn("toolu_w", "Write", { path: "x.txt", content: "no" }), { expect: { tool_result_for: "toolu_w" }, ...text("Understood, not writing.") }],
    });
    const dir = await makeProject(askManifest);
    const env = podEnv(server.url);
    expect((await runPod(["run", "write x"], { cwd: dir, env })).code).toBe(10);
    const denied = await runPod(["resume", "--deny", "not in CI, please"], { cwd: dir, env });
    expect(denied.code).toBe(0);
    expect(ofType(denied.events, "tool_result")[0]).toMatchObject({ id: "toolu_w", is_error: true });
    const sent = server.requests[1]!.body.messages.at(-1).content[0];
    expect(sent).toMatchObject({ type: "tool_result", tool_use_id: "toolu_w", is_error: true });
    expect(sent.content).toContain("not in CI, please");
    expect(existsSync(path.join(dir, "x.txt"))).toBe(false);
  });
});

describe("state conflicts", () => {
  it("resume on an idle pod is not_paused, cancel with nothing running is not_running (exit 3, one line)", async () => {
    server = await startFakeServer({ turns: [text("hi")] });
    const dir = await makeProject(manifest({ scope: false }));
    const env = podEnv(server.url);
    expect((await runPod(["run", "hi"], { cwd: dir, env })).code).toBe(0);
    const before = await readFile(path.join(dir, ".pod/tester/status.json"), "utf8");
    const resume = await runPod(["resume"], { cwd: dir, env });
    expect(resume.code).toBe(3);
    expect(resume.events).toEqual([expect.objectContaining({ type: "error", code: "not_paused" })]);
    const cancel = await runPod(["cancel"], { cwd: dir, env });
    expect(cancel.code).toBe(3);
    expect(cancel.events).toEqual([expect.objectContaining({ type: "error", code: "not_running" })]);
    expect(await readFile(path.join(dir, ".pod/tester/status.json"), "utf8")).toBe(before);
  });
});
