import { readFile } from "node:fs/promises";
import { afterEach, describe, expect, it } from "vitest";
import { call, calls, manifest, ofType, reply, startInProcessPod, text, type InProcessOptions, type InProcessPod } from "../helpers/in-process.js";
import { apiHistoryProblems } from "../helpers/api-history.js";

/**
 * The run loop's branches, in process (test/helpers/in-process.ts): the real commands,
 * invokeRun and run loop, the real SDK over real HTTP against the fake Messages API. Each
 * run takes milliseconds; test/e2e/ proves the same behaviour through the binary.
 */
let pod: InProcessPod | undefined;
afterEach(async () => {
  await pod?.close();
  pod = undefined;
});

async function start(opts: InProcessOptions): Promise<InProcessPod> {
  pod = await startInProcessPod(opts);
  return pod;
}

const types = (events: any[]) => events.map((e) => e.type).filter((t) => !["text_delta", "tool_call_delta", "waiting"].includes(t));
const lastUserBlocks = (body: any) => [...body.messages].reverse().find((m: any) => m.role === "user").content;

describe("a turn", () => {
  it("a plain answer: one turn, finished, exit 0, stored and saved", async () => {
    const p = await start({ turns: [{ expect: { last_user_text_includes: "hello" }, ...text("Hi there.") }], manifest: manifest({ scope: false }) });
    const r = await p.run("hello");
    expect(r.code).toBe(0);
    // Store first, then tell: usage (the response stored) before turn_end (status saved), run_end last.
    expect(types(r.events)).toEqual(["run_start", "turn_start", "text_done", "usage", "turn_end", "run_end"]);
    expect(ofType(r.events, "text_delta").map((e) => e.text).join("")).toBe("Hi there.");
    expect(r.events[0]).toMatchObject({ type: "run_start", mode: "run", input: "hello", model: "claude-sonnet-5-5" });
    expect(r.events.map((e) => e.seq)).toEqual(r.events.map((_, i) => i));
    expect(r.events.at(-1)).toMatchObject({ type: "run_end", result: "finished", turns: 1, denials: [] });
    expect(ofType(r.events, "turn_end")).toEqual([expect.objectContaining({ turn: 1, stop_reason: "end_turn" })]);
    expect(await p.status()).toMatchObject({ status: "idle", last_result: "finished", turn: 1 });
    expect((await p.history()).map((m) => m.role)).toEqual(["user", "assistant"]);
    expect(p.server.mismatches).toEqual([]);
  });

  it("a tool call and its result: the call runs, its result goes back to the model", async () => {
    const p = await start({ turns: [calls([call("toolu_r", "Read", { path: "a.txt" })]), { expect: { tool_result_for: "toolu_r" }, ...text("It says alpha.") }], files: { "a.txt": "alpha\n" } });
    const r = await p.run("read a.txt");
    expect(r.code).toBe(0);
    expect(ofType(r.events, "tool_result")).toEqual([expect.objectContaining({ id: "toolu_r", name: "Read", is_error: false, output: expect.stringContaining("alpha") })]);
    expect(r.events.at(-1)).toMatchObject({ result: "finished", turns: 2 });
    expect(ofType(r.events, "turn_end").map((e) => e.stop_reason)).toEqual(["tool_use", "end_turn"]);
    expect(p.server.mismatches).toEqual([]);
  });

  it("several calls in one turn run in order and all their results go back in one message", async () => {
    const p = await start({
      turns: [calls([call("t1", "Read", { path: "a.txt" }), call("t2", "Write", { path: "c.txt", content: "gamma\n" }), call("t3", "Read", { path: "b.txt" })]), text("Done.")],
      files: { "a.txt": "alpha\n", "b.txt": "beta\n" },
    });
    const r = await p.run("do three things");
    expect(r.code).toBe(0);
    expect(ofType(r.events, "tool_result").map((e) => [e.id, e.is_error])).toEqual([["t1", false], ["t2", false], ["t3", false]]);
    expect(await readFile(p.path("c.txt"), "utf8")).toBe("gamma\n");
    const sent = lastUserBlocks(p.server.requests[1]!.body);
    expect(sent.map((b: any) => b.tool_use_id)).toEqual(["t1", "t2", "t3"]);
    expect(apiHistoryProblems(p.server.requests[1]!.body.messages)).toEqual([]);
  });

  it("an unknown tool and an invalid input are results the model reads, not failures of the run", async () => {
    const p = await start({ turns: [calls([call("u1", "Nope", {}), call("u2", "Read", { nothing: 1 })]), text("Sorry.")] });
    const r = await p.run("go");
    expect(r.code).toBe(0);
    const [unknown, invalid] = ofType(r.events, "tool_result");
    expect(unknown).toMatchObject({ id: "u1", is_error: true, output: expect.stringContaining('Unknown tool "Nope"') });
    expect(invalid).toMatchObject({ id: "u2", is_error: true, output: expect.stringContaining("Invalid input for Read") });
    expect(r.events.at(-1)).toMatchObject({ result: "finished", denials: [] });
  });
});

describe("limits", () => {
  it("max_turns: stops before the request past the limit (exit 11, limit turns); the pod is idle", async () => {
    const p = await start({ turns: [calls([call("t1", "Read", { path: "a.txt" })]), text("never asked")], manifest: manifest({ maxTurns: 1 }), files: { "a.txt": "alpha\n" } });
    const r = await p.run("read");
    expect(r.code).toBe(11);
    expect(p.server.requests).toHaveLength(1);
    expect(r.events.at(-1)).toMatchObject({ type: "run_end", result: "limit_reached", limit: "turns", turns: 1 });
    // The call of the last turn ran: the history is whole, the next run continues it.
    expect(ofType(r.events, "tool_result")).toHaveLength(1);
    expect(await p.status()).toMatchObject({ status: "idle", last_result: "limit_reached" });
  });

  it("--max-turns on the command line beats the manifest", async () => {
    const p = await start({ turns: [calls([call("t1", "Read", { path: "a.txt" })]), calls([call("t2", "Read", { path: "a.txt" })]), text("never asked")], files: { "a.txt": "alpha\n" } });
    const r = await p.run("read", { maxTurns: 2 });
    expect(r.code).toBe(11);
    expect(r.events.at(-1)).toMatchObject({ limit: "turns", turns: 2 });
  });

  it("--timeout: a request that never answers is stopped as a cancel would (exit 11, limit time, paused)", async () => {
    const p = await start({ turns: [text("never", "end_turn", { fault: { kind: "hang" } }), text("Resumed.")], manifest: manifest({ scope: false }) });
    const r = await p.run("wait", { timeout: "300ms" });
    expect(r.code).toBe(11);
    expect(r.events.at(-1)).toMatchObject({ type: "run_end", result: "limit_reached", limit: "time", turns: 0 });
    expect(await p.status()).toMatchObject({ status: "paused" });
    const resumed = await p.resume();
    expect(resumed.code).toBe(0);
    expect(resumed.events.at(-1)).toMatchObject({ result: "finished", turns: 1 });
  });
});

describe("stop reasons", () => {
  it("max_tokens: cut text is asked to be continued, and the run goes on", async () => {
    const p = await start({ turns: [text("The first half", "max_tokens"), { expect: { last_user_text_includes: "cut off at the output limit" }, ...text(" and the rest.") }], manifest: manifest({ scope: false }) });
    const r = await p.run("write a lot");
    expect(r.code).toBe(0);
    expect(ofType(r.events, "turn_end").map((e) => e.stop_reason)).toEqual(["max_tokens", "end_turn"]);
    expect(r.events.at(-1)).toMatchObject({ result: "finished", turns: 2 });
    expect(p.server.mismatches).toEqual([]);
  });

  it("max_tokens in the middle of a call: the cut call is answered, never run", async () => {
    const p = await start({
      turns: [reply([{ type: "tool_use_cut", id: "cut1", name: "Write", partial_json: '{"path":"x.txt","cont' }], "max_tokens"), { expect: { tool_result_for: "cut1" }, ...text("I will split it.") }],
    });
    const r = await p.run("write");
    expect(r.code).toBe(0);
    expect(ofType(r.events, "tool_result")).toEqual([expect.objectContaining({ id: "cut1", is_error: true, output: expect.stringMatching(/^Not run: your response was cut off at the output limit/) })]);
    await expect(readFile(p.path("x.txt"))).rejects.toThrow();
    expect(p.server.mismatches).toEqual([]);
  });

  it("refusal: nothing of the response runs, error refused, exit 1; the history stays one the API accepts", async () => {
    const p = await start({ turns: [reply([{ type: "text", text: "I won't." }, call("w1", "Write", { path: "x.txt", content: "x" })], "refusal")] });
    const r = await p.run("do it");
    expect(r.code).toBe(1);
    expect(ofType(r.events, "tool_result")).toEqual([expect.objectContaining({ id: "w1", is_error: true, output: expect.stringContaining("stop_reason refusal") })]);
    expect(ofType(r.events, "error")).toEqual([expect.objectContaining({ code: "refused", message: expect.stringContaining("I won't.") })]);
    expect(r.events.at(-1)).toMatchObject({ type: "run_end", result: "error" });
    await expect(readFile(p.path("x.txt"))).rejects.toThrow();
    expect(apiHistoryProblems(await p.history())).toEqual([]);
    expect(await p.status()).toMatchObject({ status: "idle", last_result: "error" });
  });

  it("a stop reason pod does not know: provider_error naming it, nothing run", async () => {
    const p = await start({ turns: [reply([call("w1", "Write", { path: "x.txt", content: "x" })], "something_new")] });
    const r = await p.run("do it");
    expect(r.code).toBe(1);
    expect(ofType(r.events, "error")).toEqual([expect.objectContaining({ code: "provider_error", message: expect.stringContaining('"something_new"') })]);
    await expect(readFile(p.path("x.txt"))).rejects.toThrow();
  });

  it("context window full mid-response: the session is compacted and the turn asked again once", async () => {
    const p = await start({
      turns: [
        text("First answer."),
        text("Half an answ", "model_context_window_exceeded"),
        // The summary request (compaction, not streamed) takes the next scripted turn.
        { expect: { last_user_text_includes: "this session is being compacted" }, ...text("Summary: the user asked twice.") },
        text("The second answer, on a compacted session."),
      ],
      manifest: manifest({ scope: false, extra: "\n[compaction]\nkeep_recent_turns = 0\n" }),
    });
    expect((await p.run("first")).code).toBe(0);
    const r = await p.run("second");
    expect(r.code).toBe(0);
    expect(ofType(r.events, "compaction")).toHaveLength(1);
    expect(ofType(r.events, "turn_retry")).toEqual([expect.objectContaining({ turn: 2, attempt: 1, delay_ms: 0 })]);
    expect(r.events.at(-1)).toMatchObject({ result: "finished", turns: 1 });
    expect(JSON.stringify(p.server.requests.at(-1)!.body.messages)).not.toContain("Half an answ");
    expect(p.server.mismatches).toEqual([]);
  });

  it("context window full with nothing to compact: context_exceeded at once", async () => {
    const p = await start({ turns: [text("Too big", "model_context_window_exceeded")], manifest: manifest({ scope: false }) });
    const r = await p.run("first");
    expect(r.code).toBe(1);
    expect(ofType(r.events, "error").at(-1)).toMatchObject({ code: "context_exceeded", message: expect.stringContaining("did not make it smaller") });
  });

  it("above [compaction] threshold_tokens after a finished run: compacted after the run", async () => {
    const big = { ...text("A long answer."), response: { ...text("A long answer.").response, usage: { input_tokens: 5000, output_tokens: 5, cache_read_input_tokens: 0, cache_creation_input_tokens: 0 } } };
    const p = await start({
      turns: [text("One."), big, { expect: { last_user_text_includes: "this session is being compacted" }, ...text("Summary.") }],
      manifest: manifest({ scope: false, extra: "\n[compaction]\nthreshold_tokens = 1000\nkeep_recent_turns = 0\n" }),
    });
    expect((await p.run("first")).code).toBe(0);
    const r = await p.run("second");
    expect(r.code).toBe(0);
    const at = r.events.findIndex((e) => e.type === "compaction");
    expect(at).toBeGreaterThan(r.events.findIndex((e) => e.type === "turn_end"));
    expect(at).toBeLessThan(r.events.length - 1);
    expect(p.server.mismatches).toEqual([]);
  });
});

describe("retries", () => {
  it("a 529 (overloaded) is retried after a visible wait, then the turn succeeds", async () => {
    const p = await start({ turns: [text("Answer.", "end_turn", { fault: { kind: "http", status: 529, times: 1 } })], manifest: manifest({ scope: false }) });
    const r = await p.run("hello");
    expect(r.code).toBe(0);
    expect(p.server.requests).toHaveLength(2);
    expect(ofType(r.events, "turn_retry")).toEqual([expect.objectContaining({ turn: 1, attempt: 1, delay_ms: 10, reason: expect.stringMatching(/overloaded/i) })]);
    expect(r.events.at(-1)).toMatchObject({ result: "finished", turns: 1 });
  });

  it("the server's retry-after is honoured (capped by POD_RETRY_AFTER_MAX_MS)", async () => {
    const p = await start({ turns: [text("Answer.", "end_turn", { fault: { kind: "http", status: 429, retry_after_s: 30, times: 1 } })], manifest: manifest({ scope: false }), env: { POD_RETRY_AFTER_MAX_MS: "20" } });
    const r = await p.run("hello");
    expect(r.code).toBe(0);
    expect(ofType(r.events, "turn_retry")).toEqual([expect.objectContaining({ attempt: 1, delay_ms: 20 })]);
  });

  it("gives up after the retries: provider_error with the attempts, exit 1, paused; resume asks again", async () => {
    const p = await start({ turns: [text("Answer at last.", "end_turn", { fault: { kind: "http", status: 529, times: 3 } })], manifest: manifest({ scope: false }), env: { POD_MAX_RETRIES: "2" } });
    const r = await p.run("hello");
    expect(r.code).toBe(1);
    expect(ofType(r.events, "turn_retry").map((e) => e.attempt)).toEqual([1, 2]);
    expect(ofType(r.events, "error")).toEqual([expect.objectContaining({ code: "provider_error", message: expect.stringContaining("after 3 attempts") })]);
    expect(r.events.at(-1)).toMatchObject({ type: "run_end", result: "error", turns: 1 });
    expect(await p.status()).toMatchObject({ status: "paused", last_result: "error" });
    const resumed = await p.resume();
    expect(resumed.code).toBe(0);
    expect(resumed.events.at(-1)).toMatchObject({ result: "finished" });
    expect((await p.history()).map((m) => m.role)).toEqual(["user", "assistant"]);
  });

  it("a fault that is not transient (400) is not retried", async () => {
    const p = await start({ turns: [text("never", "end_turn", { fault: { kind: "http", status: 400, times: 1 } })], manifest: manifest({ scope: false }) });
    const r = await p.run("hello");
    expect(r.code).toBe(1);
    expect(p.server.requests).toHaveLength(1);
    expect(ofType(r.events, "turn_retry")).toEqual([]);
    expect(await p.status()).toMatchObject({ status: "idle", last_result: "error" });
  });

  it("still overloaded after the retries, with [provider] fallback_model: the rest of the run uses it", async () => {
    const p = await start({
      turns: [text("From the fallback.", "end_turn", { fault: { kind: "http", status: 529, times: 2 } })],
      manifest: manifest({ scope: false, extra: '\n[provider]\nfallback_model = "claude-haiku-5-5"\n' }),
      env: { POD_MAX_RETRIES: "1" },
    });
    const r = await p.run("hello");
    expect(r.code).toBe(0);
    expect(ofType(r.events, "model_fallback")).toEqual([expect.objectContaining({ from: "claude-sonnet-5-5", to: "claude-haiku-5-5" })]);
    expect(p.server.requests.map((q) => q.body.model)).toEqual(["claude-sonnet-5-5", "claude-sonnet-5-5", "claude-haiku-5-5"]);
  });

  it("a stream cut after it started is asked again; nothing of the cut attempt is stored", async () => {
    const p = await start({ turns: [text("The whole answer.", "end_turn", { fault: { kind: "drop", after_events: 4 } })], manifest: manifest({ scope: false }) });
    const r = await p.run("hello");
    expect(r.code).toBe(0);
    expect(ofType(r.events, "turn_retry")).toHaveLength(1);
    expect((await p.history()).filter((m) => m.role === "assistant")).toEqual([expect.objectContaining({ content: [{ type: "text", text: "The whole answer." }] })]);
  });
});

describe("denials and approval", () => {
  it("a call the boundary refuses is a denied result, listed in run_end.denials; --fail-on-denial exits 1", async () => {
    const turns = () => [calls([call("d1", "Write", { path: "pod.toml", content: "[pod]\n" }), call("d2", "Read", { path: "../outside.txt" })]), text("Could not.")];
    const p = await start({ turns: [...turns(), ...turns()] });
    const r = await p.run("change the manifest");
    expect(r.code).toBe(0);
    expect(ofType(r.events, "tool_result").map((e) => [e.id, e.is_error])).toEqual([["d1", true], ["d2", true]]);
    expect(r.events.at(-1).denials).toEqual([expect.objectContaining({ id: "d1", tool: "Write" }), expect.objectContaining({ id: "d2", tool: "Read" })]);
    const strict = await p.run("again", { failOnDenial: true });
    expect(strict.code).toBe(1);
    expect(strict.events.at(-1)).toMatchObject({ result: "finished" });
  });

  const askWrite = manifest({ extra: '\n[tools]\nask = ["Write"]\n' });
  const writeTurn = calls([call("w1", "Write", { path: "out.txt", content: "approved\n" })]);

  it("a call in [tools] ask pauses the run (exit 10) with it pending; resume --approve runs it and finishes", async () => {
    const p = await start({ turns: [writeTurn, { expect: { tool_result_for: "w1" }, ...text("Written.") }], manifest: askWrite });
    const r = await p.run("write it");
    expect(r.code).toBe(10);
    expect(r.events.at(-1)).toMatchObject({ type: "run_end", result: "paused", pending: [{ id: "w1", name: "Write", input: { path: "out.txt", content: "approved\n" } }] });
    expect(await p.status()).toMatchObject({ status: "paused", pending: { id: "w1", name: "Write" } });
    await expect(readFile(p.path("out.txt"))).rejects.toThrow();

    const resumed = await p.resume({ approve: true });
    expect(resumed.code).toBe(0);
    expect(resumed.events[0]).toMatchObject({ type: "run_start", mode: "resume" });
    expect(ofType(resumed.events, "tool_result")).toEqual([expect.objectContaining({ id: "w1", is_error: false })]);
    expect(await readFile(p.path("out.txt"), "utf8")).toBe("approved\n");
    expect(await p.status()).toMatchObject({ status: "idle", pending: null });
    expect(p.server.mismatches).toEqual([]);
  });

  it("resume --deny: the call is answered as denied by a person and listed in denials", async () => {
    const p = await start({ turns: [writeTurn, { expect: { tool_result_for: "w1" }, ...text("OK, not writing.") }], manifest: askWrite });
    expect((await p.run("write it")).code).toBe(10);
    const resumed = await p.resume({ deny: "not today" });
    expect(resumed.code).toBe(0);
    expect(ofType(resumed.events, "tool_result")).toEqual([expect.objectContaining({ id: "w1", is_error: true, output: "A person denied this Write call: not today" })]);
    expect(resumed.events.at(-1).denials).toEqual([{ id: "w1", tool: "Write", reason: "A person denied this Write call: not today" }]);
    await expect(readFile(p.path("out.txt"))).rejects.toThrow();
  });

  it("resume without a decision is refused (exit 2) and changes nothing; a new prompt supersedes the pending call", async () => {
    const p = await start({ turns: [writeTurn, { expect: { tool_result_for: "w1" }, ...text("Moving on.") }], manifest: askWrite });
    expect((await p.run("write it")).code).toBe(10);
    const refused = await p.resume();
    expect(refused.code).toBe(2);
    expect(refused.events).toEqual([expect.objectContaining({ type: "error", code: "invalid_input", message: expect.stringContaining("waiting for approval") })]);
    expect(refused.stderr).toEqual([expect.stringMatching(/^pod: a Write call \(w1\) is waiting for approval/)]);
    expect(await p.status()).toMatchObject({ status: "paused" });

    const next = await p.run("never mind");
    expect(next.code).toBe(0);
    const superseded = lastUserBlocks(p.server.requests[1]!.body).find((b: any) => b.type === "tool_result");
    expect(superseded).toMatchObject({ tool_use_id: "w1", is_error: true });
    expect(JSON.stringify(superseded.content)).toContain("a new prompt was given");
    await expect(readFile(p.path("out.txt"))).rejects.toThrow();
  });
});

describe("structured output (--output-schema)", () => {
  const SCHEMA = { type: "object", properties: { verdict: { enum: ["pass", "fail"] } }, required: ["verdict"], additionalProperties: false };

  it("an invalid final answer is sent back with why; the corrected one is run_end.output and the -o file", async () => {
    const p = await start({
      turns: [calls([call("f1", "final_answer", { verdict: "maybe" })]), { expect: { tool_result_for: "f1" }, ...calls([call("f2", "final_answer", { verdict: "pass" })]) }],
      manifest: manifest({ scope: false }),
      files: { "schema.json": JSON.stringify(SCHEMA) },
    });
    const r = await p.run("judge it", { outputSchema: p.path("schema.json"), outputLastMessage: p.path("answer.json") });
    expect(r.code).toBe(0);
    expect(ofType(r.events, "tool_result")[0]).toMatchObject({ id: "f1", name: "final_answer", is_error: true, output: expect.stringContaining("/verdict") });
    expect(r.events.at(-1)).toMatchObject({ result: "finished", turns: 2, output: { verdict: "pass" } });
    expect(JSON.parse(await readFile(p.path("answer.json"), "utf8"))).toEqual({ verdict: "pass" });
    expect(p.server.mismatches).toEqual([]);
  });
});
