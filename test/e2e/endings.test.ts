import { existsSync } from "node:fs";
import { readFile } from "node:fs/promises";
import path from "node:path";
import type { ChildProcess } from "node:child_process";
import { afterEach, describe, expect, it } from "vitest";
import { startFakeServer, type FakeServer } from "../fake-server/server.js";
import { apiHistoryProblems } from "../helpers/api-history.js";
import { collect, makeProject, manifest, ofType, podEnv, runPod, spawnPod } from "../helpers/pod-process.js";

/**
 * Issue 23, items 1 and 2: every way a response ends is told apart, and nothing cut or
 * refused is taken as done. The built binary against the fake Messages API (real SDK,
 * real HTTP, the real SSE wire format), each stop reason and a stream cut before message_stop.
 */
let server: FakeServer | undefined;
afterEach(async () => {
  await server?.close();
  server = undefined;
});

const usage = { input_tokens: 10, output_tokens: 5, cache_read_input_tokens: 0, cache_creation_input_tokens: 0 };
const reply = (content: object[], stop_reason: string | null, extra: object = {}) => ({ response: { content, stop_reason, usage }, ...extra });
const text = (t: string, stop = "end_turn", extra: object = {}) => reply([{ type: "text", text: t }], stop, extra);
const fast = { POD_RETRY_BASE_MS: "10" };

async function start(turns: object[], manifestText = manifest(), files: Record<string, string> = {}) {
  server = await startFakeServer({ turns });
  const dir = await makeProject(manifestText, files);
  return { dir, env: podEnv(server.url, fast) };
}

const status = async (dir: string) => JSON.parse(await readFile(path.join(dir, ".pod/tester/status.json"), "utf8"));

/** The stored messages of the current session, as `pod history` prints them. */
async function history(dir: string, env: Record<string, string | undefined>): Promise<any[]> {
  const r = await runPod(["history"], { cwd: dir, env });
  expect(r.code).toBe(0);
  return r.events;
}

function waitForEvent(child: ChildProcess, pred: (e: any) => boolean): Promise<any> {
  return new Promise((resolve, reject) => {
    let buf = "";
    child.stdout!.on("data", (d: Buffer) => {
      buf += d.toString();
      const lines = buf.split("\n");
      buf = lines.pop()!;
      for (const l of lines) if (l && pred(JSON.parse(l))) resolve(JSON.parse(l));
    });
    child.on("close", () => reject(new Error("process ended before the event")));
  });
}

describe("a stream that ends without message_stop is broken (item 1)", () => {
  it("is asked again like a dropped connection, never stored as a turn", async () => {
    const { dir, env } = await start([text("The whole answer.", "end_turn", { fault: { kind: "end_early", times: 1 } })], manifest({ scope: false }));
    const r = await runPod(["run", "hello"], { cwd: dir, env });
    expect(r.code).toBe(0);
    expect(server!.requests).toHaveLength(2);
    const retry = ofType(r.events, "turn_retry");
    expect(retry).toHaveLength(1);
    expect(retry[0].reason).toMatch(/without message_stop/);
    expect(r.events.at(-1)).toMatchObject({ type: "run_end", result: "finished", turns: 1 });
    // One assistant message: the cut stream left nothing behind.
    const messages = await history(dir, env);
    expect(messages.filter((m) => m.role === "assistant")).toEqual([expect.objectContaining({ content: [{ type: "text", text: "The whole answer." }] })]);
  });

  it("a tool call cut mid-JSON by the early end is never run; the retried response's call runs once", async () => {
    const call = { type: "tool_use", id: "toolu_w", name: "Write", input: { path: "out.txt", content: "written once\n" } };
    // Cut after message_start, the text block and part of the tool call's input.
    const { dir, env } = await start([reply([{ type: "text", text: "Writing." }, call], "tool_use", { fault: { kind: "end_early", after_events: 9 }, delivery: { ping_every: 0, text_split: 6 } }), { expect: { tool_result_for: "toolu_w" }, ...text("Done.") }]);
    const r = await runPod(["run", "write it"], { cwd: dir, env });
    expect(r.code).toBe(0);
    expect(ofType(r.events, "turn_retry")).toHaveLength(1);
    // The void attempt started the call (deltas are void after turn_retry); only the retried one finished it.
    const retryAt = r.events.findIndex((e) => e.type === "turn_retry");
    expect(r.events.slice(0, retryAt).some((e) => e.type === "tool_call_start")).toBe(true);
    expect(r.events.slice(0, retryAt).some((e) => e.type === "tool_call_done")).toBe(false);
    expect(ofType(r.events, "tool_call_done")).toHaveLength(1);
    expect(ofType(r.events, "tool_result")).toEqual([expect.objectContaining({ id: "toolu_w", is_error: false })]);
    expect(await readFile(path.join(dir, "out.txt"), "utf8")).toBe("written once\n");
    expect(server!.mismatches).toEqual([]);
  });

  it("still cut after every retry: provider_error, exit 1, the pod resumable and nothing stored", async () => {
    const { dir, env } = await start([text("Never whole.", "end_turn", { fault: { kind: "end_early", times: 10 } })], manifest({ scope: false }));
    const r = await runPod(["run", "hello"], { cwd: dir, env: { ...env, POD_MAX_RETRIES: "2" } });
    expect(r.code).toBe(1);
    expect(ofType(r.events, "turn_retry")).toHaveLength(2);
    expect(ofType(r.events, "error")[0]).toMatchObject({ code: "provider_error", message: expect.stringMatching(/without message_stop.*after 3 attempts/) });
    expect(await status(dir)).toMatchObject({ status: "paused", last_result: "error" });
    expect((await history(dir, env)).filter((m) => m.role === "assistant")).toEqual([]);
  });

  it("kill -9 while it waits to retry loses nothing: the completed turn is kept, the cut one never was, resume finishes", async () => {
    const read = { type: "tool_use", id: "toolu_r", name: "Read", input: { path: "a.txt" } };
    const { dir, env } = await start(
      [reply([read], "tool_use"), text("Read it; all good.", "end_turn", { fault: { kind: "end_early", times: 1 } }), { expect: { tool_result_for: "toolu_r" }, ...text("Read it; all good.") }],
      manifest(),
      { "a.txt": "alpha\n" },
    );
    // A long backoff, so the kill lands in the wait after the cut stream.
    const child = spawnPod(["run", "read a.txt"], { cwd: dir, env: { ...env, POD_RETRY_BASE_MS: "20000" } });
    const done = collect(child, ["run"]);
    await waitForEvent(child, (e) => e.type === "turn_retry");
    child.kill("SIGKILL");
    const killed = await done;
    expect(killed.signal).toBe("SIGKILL");
    const stored = await history(dir, env);
    // Turn 1 (the Read and its result) is there; turn 2's cut stream is not.
    expect(stored.map((m) => m.role)).toEqual(["user", "assistant", "user"]);
    expect(stored[1].content).toEqual([expect.objectContaining({ type: "tool_use", id: "toolu_r" })]);
    const resumed = await runPod(["resume"], { cwd: dir, env });
    expect(resumed.code).toBe(0);
    expect(ofType(resumed.events, "state_repaired")).toHaveLength(1);
    expect(resumed.events.at(-1)).toMatchObject({ type: "run_end", result: "finished" });
    expect(apiHistoryProblems(server!.requests.at(-1)!.body.messages)).toEqual([]);
    expect(server!.mismatches).toEqual([]);
  });
});

describe("each stop reason does what SPEC says (item 2)", () => {
  it("max_tokens cutting a tool call mid-JSON: the call is not run, the model is told, and the run goes on", async () => {
    // The SDK fixture's shape: text, then a call whose input the limit cut.
    const cut = { type: "tool_use_cut", id: "toolu_cut", name: "Write", partial_json: '{"path": "taxes.txt", "content": "# COMPREHENSIVE TAX GUIDE\\n\\nFiling taxes' };
    const whole = { type: "tool_use", id: "toolu_2", name: "Write", input: { path: "taxes.txt", content: "# short guide\n" } };
    const { dir, env } = await start([
      reply([{ type: "text", text: "Let me do that for you now." }, cut], "max_tokens"),
      { expect: { tool_result_for: "toolu_cut" }, ...reply([whole], "tool_use") },
      { expect: { tool_result_for: "toolu_2" }, ...text("Saved a shorter guide.") },
    ]);
    const r = await runPod(["run", "write a tax guide to taxes.txt"], { cwd: dir, env });
    expect(r.code).toBe(0);
    expect(server!.mismatches).toEqual([]);
    // The cut call: started on stdout, never done, answered with an error result that says why.
    expect(ofType(r.events, "tool_call_start").map((e) => e.id)).toEqual(["toolu_cut", "toolu_2"]);
    expect(ofType(r.events, "tool_call_done").map((e) => e.id)).toEqual(["toolu_2"]);
    const results = ofType(r.events, "tool_result");
    expect(results[0]).toMatchObject({ id: "toolu_cut", name: "Write", is_error: true, output: expect.stringMatching(/^Not run: your response was cut off at the output limit \(max_tokens = 8192\)/) });
    expect(ofType(r.events, "turn_end")[0]).toMatchObject({ turn: 1, stop_reason: "max_tokens" });
    // What the model got back: its cut call with an object input, and the error result.
    const second = server!.requests[1]!.body.messages;
    expect(second.at(-2)).toMatchObject({ role: "assistant", content: [{ type: "text" }, { type: "tool_use", id: "toolu_cut", input: {} }] });
    expect(second.at(-1).content[0]).toMatchObject({ type: "tool_result", tool_use_id: "toolu_cut", is_error: true });
    expect(apiHistoryProblems(second)).toEqual([]);
    expect(await readFile(path.join(dir, "taxes.txt"), "utf8")).toBe("# short guide\n");
    expect(r.events.at(-1)).toMatchObject({ result: "finished", turns: 3 });
  });

  it("a tool call whose block never ended, under any stop reason, is not run and the run goes on", async () => {
    const cut = { type: "tool_use_cut", id: "toolu_open", name: "Write", partial_json: '{"path": "x.txt", "content": "hal' };
    const { dir, env } = await start([reply([cut], "tool_use"), { expect: { tool_result_for: "toolu_open" }, ...text("I will try again later.") }]);
    const r = await runPod(["run", "write x"], { cwd: dir, env });
    expect(server!.mismatches).toEqual([]);
    expect(r.code).toBe(0);
    expect(ofType(r.events, "tool_result")).toEqual([expect.objectContaining({ id: "toolu_open", is_error: true, output: expect.stringMatching(/^Not run: this Write call did not arrive whole/) })]);
    expect(existsSync(path.join(dir, "x.txt"))).toBe(false);
    expect(r.events.at(-1)).toMatchObject({ result: "finished", turns: 2 });
  });

  it("max_tokens cutting text: the model is asked to continue where it stopped", async () => {
    const { dir, env } = await start(
      [text("The answer is forty", "max_tokens"), { expect: { last_user_text_includes: "Continue exactly where it stopped" }, ...text("-two.") }],
      manifest({ scope: false }),
    );
    const r = await runPod(["run", "what is the answer?"], { cwd: dir, env });
    expect(server!.mismatches).toEqual([]);
    expect(r.code).toBe(0);
    expect(ofType(r.events, "text_done").map((e) => e.text)).toEqual(["The answer is forty", "-two."]);
    expect(ofType(r.events, "turn_end").map((e) => e.stop_reason)).toEqual(["max_tokens", "end_turn"]);
    expect(r.events.at(-1)).toMatchObject({ result: "finished", turns: 2 });
  });

  it("max_tokens over and over ends at the turn limit, never as finished", async () => {
    const { dir, env } = await start([text("a", "max_tokens"), text("b", "max_tokens"), text("c", "max_tokens")], manifest({ scope: false, maxTurns: 3 }));
    const r = await runPod(["run", "go"], { cwd: dir, env });
    expect(r.code).toBe(11);
    expect(r.events.at(-1)).toMatchObject({ result: "limit_reached", limit: "turns", turns: 3 });
  });

  it("pause_turn: the response is sent back as it is and the turn continues", async () => {
    const { dir, env } = await start([text("Looking into it…", "pause_turn"), text(" Found it: 42.")], manifest({ scope: false }));
    const r = await runPod(["run", "find it"], { cwd: dir, env });
    expect(r.code).toBe(0);
    expect(server!.requests).toHaveLength(2);
    // The continuation request ends with the paused response itself: nothing added after it.
    const messages = server!.requests[1]!.body.messages;
    expect(messages.at(-1)).toMatchObject({ role: "assistant", content: [{ type: "text", text: "Looking into it…" }] });
    expect(messages.at(-2)).toMatchObject({ role: "user" });
    expect(ofType(r.events, "turn_end").map((e) => e.stop_reason)).toEqual(["pause_turn", "end_turn"]);
    expect(r.events.at(-1)).toMatchObject({ result: "finished", turns: 2 });
  });

  it("refusal: error refused, exit 1, nothing of the response is run", async () => {
    const write = { type: "tool_use", id: "toolu_x", name: "Write", input: { path: "x.txt", content: "no\n" } };
    const { dir, env } = await start([reply([{ type: "text", text: "I can't help with that." }, write], "refusal")]);
    const r = await runPod(["run", "do something bad"], { cwd: dir, env });
    expect(r.code).toBe(1);
    // Answered as not run, so the history stays one the API accepts.
    expect(ofType(r.events, "tool_result")).toEqual([expect.objectContaining({ id: "toolu_x", is_error: true, output: "Not run: the response ended with stop_reason refusal, so none of its tool calls were run." })]);
    expect(apiHistoryProblems((await history(dir, env)).map((m) => ({ role: m.role, content: m.content })))).toEqual([]);
    expect(existsSync(path.join(dir, "x.txt"))).toBe(false);
    const error = ofType(r.events, "error")[0];
    expect(error).toMatchObject({ code: "refused" });
    expect(error.message).toMatch(/declined to continue \(stop_reason refusal\); it said: I can't help with that\./);
    expect(r.events.at(-1)).toMatchObject({ type: "run_end", result: "error", denials: [] });
    expect(await status(dir)).toMatchObject({ status: "idle", last_result: "error" });
  });

  it("model_context_window_exceeded: compacts and asks the turn again once", async () => {
    const compacting = manifest({ scope: false, extra: "\n[compaction]\nkeep_recent_turns = 0\n" });
    const { dir, env } = await start(
      [
        text("First answer."),
        text("Half an answ", "model_context_window_exceeded"),
        // The summary request (compaction, not streamed) takes the next scripted turn.
        { expect: { last_user_text_includes: "this session is being compacted" }, ...text("Summary: the user asked twice.") },
        text("The second answer, on a compacted session."),
      ],
      compacting,
    );
    expect((await runPod(["run", "first"], { cwd: dir, env })).code).toBe(0);
    const r = await runPod(["run", "second"], { cwd: dir, env });
    expect(server!.mismatches).toEqual([]);
    expect(r.code).toBe(0);
    expect(ofType(r.events, "compaction")).toHaveLength(1);
    expect(ofType(r.events, "turn_retry")).toEqual([expect.objectContaining({ turn: 2, attempt: 1, reason: expect.stringContaining("model_context_window_exceeded") })]);
    expect(r.events.at(-1)).toMatchObject({ result: "finished", turns: 1 });
    // The cut response was never stored: the session holds the summary, the prompt and the answer.
    const last = server!.requests.at(-1)!.body.messages;
    expect(JSON.stringify(last)).not.toContain("Half an answ");
    expect(JSON.stringify(last)).toContain("Summary: the user asked twice.");
  });

  it("model_context_window_exceeded again after compacting: error context_exceeded, exit 1", async () => {
    const compacting = manifest({ scope: false, extra: "\n[compaction]\nkeep_recent_turns = 0\n" });
    const { dir, env } = await start(
      [text("First answer."), text("Too big", "model_context_window_exceeded"), text("Summary."), text("Still too big", "model_context_window_exceeded")],
      compacting,
    );
    expect((await runPod(["run", "first"], { cwd: dir, env })).code).toBe(0);
    const r = await runPod(["run", "second"], { cwd: dir, env });
    expect(r.code).toBe(1);
    expect(server!.requests.filter((q) => q.path === "/v1/messages")).toHaveLength(4);
    expect(ofType(r.events, "error")).toEqual([expect.objectContaining({ code: "context_exceeded", message: expect.stringContaining("still does not fit after compacting") })]);
    expect(r.events.at(-1)).toMatchObject({ type: "run_end", result: "error" });
  });

  it("model_context_window_exceeded with nothing to compact: context_exceeded at once", async () => {
    const { dir, env } = await start([text("Too big", "model_context_window_exceeded")], manifest({ scope: false }));
    const r = await runPod(["run", "first"], { cwd: dir, env });
    expect(r.code).toBe(1);
    expect(server!.requests.filter((q) => q.path === "/v1/messages")).toHaveLength(1);
    expect(ofType(r.events, "error").at(-1)).toMatchObject({ code: "context_exceeded", message: expect.stringContaining("did not make it smaller") });
  });

  for (const [label, stop, pattern] of [
    ["an unknown stop reason", "something_new", /stop_reason "something_new", which this version of pod does not know/],
    ["no stop reason at all", null, /without a stop_reason/],
  ] as const) {
    it(`${label}: an error naming it, exit 1, nothing run`, async () => {
      const write = { type: "tool_use", id: "toolu_y", name: "Write", input: { path: "y.txt", content: "y\n" } };
      const { dir, env } = await start([reply([{ type: "text", text: "Hmm." }, write], stop)]);
      const r = await runPod(["run", "go"], { cwd: dir, env });
      expect(r.code).toBe(1);
      expect(ofType(r.events, "error")[0]).toMatchObject({ code: "provider_error", message: expect.stringMatching(pattern) });
      expect(ofType(r.events, "tool_result")).toEqual([expect.objectContaining({ id: "toolu_y", is_error: true })]);
      expect(existsSync(path.join(dir, "y.txt"))).toBe(false);
      expect(ofType(r.events, "turn_end")[0]).toMatchObject({ stop_reason: stop ?? "none" });
    });
  }
});
