import { afterEach, describe, expect, it } from "vitest";
import { startFakeServer, type FakeServer } from "../fake-server/server.js";
import { apiHistoryProblems, withoutCacheControl } from "../helpers/api-history.js";
import { makeProject, manifest, ofType, podEnv, runPod } from "../helpers/pod-process.js";

/**
 * Extended thinking ([pod] thinking) through the built binary and the fake server, which
 * streams thinking in the API's SSE wire format (thinking_delta, then signature_delta) and
 * refuses, as the API does, a tool loop whose assistant message lost its thinking block.
 */
const usage = { input_tokens: 40, output_tokens: 20, cache_read_input_tokens: 0, cache_creation_input_tokens: 0 };
const SIGNATURE = "EqQBCgIYAhIM1gbcDa9GJwZA2b3hGgxDbeSig+Fe6kHINzIiMHmVO5rQz/sig==";
const THINKING = "The user wants the file's first line.\nI should read notes.txt before answering.";
const REDACTED = "EmwKAhgBEgy3va3pzix/LafPsn4aDFIT2Xlxh0L5L8rLVyIwxtE3rAFBa8cr3qpPkNRj2YfWXGmKDxH4mPnZ5sQ7vB5URj2pabO5";

let server: FakeServer | undefined;
afterEach(async () => {
  await server?.close();
  server = undefined;
});

const withThinking = (value: string, extra = "") => manifest({ extra: `${extra}\n` }).replace("max_turns", `thinking = ${value}\nmax_turns`);

describe("extended thinking", () => {
  it("sends the budget, streams thinking_delta events, stores the signed block and sends it back unchanged before the tool_use", async () => {
    server = await startFakeServer({
      turns: [
        {
          response: {
            content: [
              { type: "thinking", thinking: THINKING, signature: SIGNATURE },
              { type: "tool_use", id: "toolu_1", name: "Read", input: { path: "notes.txt" } },
            ],
            stop_reason: "tool_use",
            usage,
          },
          delivery: { text_split: 7, chunk_bytes: 17 },
        },
        {
          expect: { tool_result_for: "toolu_1" },
          response: {
            content: [
              { type: "redacted_thinking", data: REDACTED },
              { type: "text", text: "The first line is: hello." },
            ],
            stop_reason: "end_turn",
            usage,
          },
        },
        { response: { content: [{ type: "thinking", thinking: "", signature: "sig-omitted" }, { type: "text", text: "Still hello." }], usage } },
      ],
    });
    const dir = await makeProject(withThinking("4096", "").replace("max_turns", "max_tokens = 16000\nmax_turns"), { "notes.txt": "hello\nworld\n" });
    const r = await runPod(["run", "what is the first line of notes.txt?"], { cwd: dir, env: podEnv(server.url) });
    expect(r.stderr).toBe("");
    expect(r.code).toBe(0);
    expect(server.mismatches).toEqual([]);

    // The thinking param, on every request of the run.
    for (const req of server.requests) {
      expect(req.body.thinking).toEqual({ type: "enabled", budget_tokens: 4096 });
      expect(req.body.max_tokens).toBe(16000);
    }
    // Several thinking_delta events that add up to the thinking, before the tool call; never text.
    const deltas = ofType(r.events, "thinking_delta").map((e) => e.text);
    expect(deltas.length).toBeGreaterThan(1);
    expect(deltas.join("")).toBe(THINKING);
    const types = r.events.map((e) => e.type);
    expect(types.lastIndexOf("thinking_delta")).toBeLessThan(types.indexOf("tool_call_start"));
    expect(ofType(r.events, "text_done").map((e) => e.text)).toEqual(["The first line is: hello."]);

    // The tool loop's second request: the assistant message exactly as streamed, thinking (with its signature) first.
    const second = server.requests[1]!.body;
    expect(apiHistoryProblems(second.messages)).toEqual([]);
    expect(withoutCacheControl(second.messages)[1]).toEqual({
      role: "assistant",
      content: [
        { type: "thinking", thinking: THINKING, signature: SIGNATURE },
        { type: "tool_use", id: "toolu_1", name: "Read", input: { path: "notes.txt" } },
      ],
    });
    // No cache breakpoint lands on a thinking block (the API refuses one there).
    for (const m of second.messages) for (const b of m.content) if (b.type === "thinking") expect(b.cache_control).toBeUndefined();

    // Stored in the session as streamed, redacted thinking included.
    const history = await runPod(["history"], { cwd: dir, env: podEnv(undefined) });
    expect(history.code).toBe(0);
    const assistant = history.events.filter((m) => m.role === "assistant").map((m) => m.content);
    expect(assistant[0][0]).toEqual({ type: "thinking", thinking: THINKING, signature: SIGNATURE });
    expect(assistant[1]).toEqual([
      { type: "redacted_thinking", data: REDACTED },
      { type: "text", text: "The first line is: hello." },
    ]);

    // A new process loads them from disk and sends them back verbatim; an empty (omitted) thinking block is kept too.
    const again = await runPod(["run", "and again?"], { cwd: dir, env: podEnv(server.url) });
    expect(again.code).toBe(0);
    expect(server.mismatches).toEqual([]);
    const sent = withoutCacheControl(server.requests[2]!.body.messages);
    expect(sent[1].content[0]).toEqual({ type: "thinking", thinking: THINKING, signature: SIGNATURE });
    expect(sent[3].content[0]).toEqual({ type: "redacted_thinking", data: REDACTED });
    expect(ofType(again.events, "thinking_delta")).toEqual([]);
    const last = await runPod(["history"], { cwd: dir, env: podEnv(undefined) });
    expect(last.events.at(-1).content).toEqual([
      { type: "thinking", thinking: "", signature: "sig-omitted" },
      { type: "text", text: "Still hello." },
    ]);
  }, 60_000);

  it("compacts a session with thinking: the summary request keeps the thinking param with max_tokens above the budget, kept turns keep their signed blocks", async () => {
    const think = (n: number) => ({ type: "thinking", thinking: `step ${n}: look at a.txt`, signature: `sig-${n}` });
    server = await startFakeServer({
      turns: [
        { response: { content: [think(1), { type: "tool_use", id: "toolu_read", name: "Read", input: { path: "a.txt" } }], stop_reason: "tool_use", usage } },
        { response: { content: [think(2), { type: "tool_use", id: "toolu_edit", name: "Edit", input: { path: "a.txt", old_string: "one", new_string: "two" } }], stop_reason: "tool_use", usage } },
        { response: { content: [think(3), { type: "text", text: "Changed one to two." }], usage: { ...usage, input_tokens: 5000 } } },
        { expect: { last_user_text_includes: "Files read: a.txt" }, response: { content: [think(4), { type: "text", text: "SUMMARY: replaced one with two in a.txt." }], usage } },
        { expect: { last_user_text_includes: "next task" }, response: { content: [{ type: "text", text: "Next done." }], usage } },
      ],
    });
    const m = withThinking("8000", "\n[compaction]\nthreshold_tokens = 1000\nkeep_recent_turns = 2\n").replace("max_turns", "max_tokens = 12000\nmax_turns");
    const dir = await makeProject(m, { "a.txt": "one\n" });
    const r = await runPod(["run", "change one to two"], { cwd: dir, env: podEnv(server.url) });
    expect(r.code).toBe(0);
    expect(server.mismatches).toEqual([]);
    expect(ofType(r.events, "compaction")).toHaveLength(1);
    const bodies = server.requests.filter((q) => q.path === "/v1/messages").map((q) => q.body);
    const summary = bodies[3]!;
    expect(summary.stream).toBeFalsy();
    expect(summary.thinking).toEqual({ type: "enabled", budget_tokens: 8000 });
    expect(summary.max_tokens).toBe(12000);

    const next = await runPod(["run", "next task"], { cwd: dir, env: podEnv(server.url) });
    expect(next.code).toBe(0);
    expect(server.mismatches).toEqual([]);
    const msgs = withoutCacheControl(server.requests.filter((q) => q.path === "/v1/messages").at(-1)!.body.messages);
    expect(apiHistoryProblems(msgs)).toEqual([]);
    expect(msgs[0].content[0].text).toMatch(/^\[This session was compacted[\s\S]*SUMMARY: replaced one with two/);
    // The kept turns, thinking first and signed as streamed.
    expect(msgs[1].content[0]).toEqual(think(2));
    expect(msgs[3].content[0]).toEqual(think(3));
  }, 60_000);

  it('sends { type: "adaptive" } for thinking = "adaptive"', async () => {
    server = await startFakeServer({ turns: [{ response: { content: [{ type: "text", text: "ok" }], usage } }] });
    const dir = await makeProject(withThinking('"adaptive"'));
    const r = await runPod(["run", "hi"], { cwd: dir, env: podEnv(server.url) });
    expect(r.code).toBe(0);
    expect(server.requests[0]!.body.thinking).toEqual({ type: "adaptive" });
  });

  it('sends no thinking parameter by default or with thinking = "off"', async () => {
    server = await startFakeServer({ turns: [{ response: { content: [{ type: "text", text: "ok" }], usage } }, { response: { content: [{ type: "text", text: "ok" }], usage } }] });
    for (const m of [manifest({ scope: false }), withThinking('"off"')]) {
      const dir = await makeProject(m);
      const r = await runPod(["run", "hi"], { cwd: dir, env: podEnv(server.url) });
      expect(r.code).toBe(0);
    }
    expect(server.requests).toHaveLength(2);
    for (const req of server.requests) expect(req.body).not.toHaveProperty("thinking");
  });

  it("refuses a budget that is not below max_tokens (exit 2, naming both keys) before any request", async () => {
    server = await startFakeServer({ turns: [] });
    const dir = await makeProject(withThinking("8192").replace("max_turns", "max_tokens = 8192\nmax_turns"));
    const r = await runPod(["run", "hi"], { cwd: dir, env: podEnv(server.url) });
    expect(r.code).toBe(2);
    const error = ofType(r.events, "error")[0] ?? {};
    const said = `${error.message ?? ""}\n${r.stderr}`;
    expect(error.code).toBe("invalid_manifest");
    expect(said).toMatch(/\[pod\] thinking/);
    expect(said).toMatch(/max_tokens/);
    expect(said).toMatch(/pod\.toml:\d+/);
    expect(server.requests).toHaveLength(0);
  });

  it("refuses a budget below the API's 1024-token minimum, and a value that is neither a number nor off/adaptive", async () => {
    for (const value of ["512", '"high"']) {
      const dir = await makeProject(withThinking(value));
      const r = await runPod(["run", "hi"], { cwd: dir, env: podEnv("http://127.0.0.1:9") });
      expect(r.code).toBe(2);
      expect(`${ofType(r.events, "error")[0]?.message}\n${r.stderr}`).toMatch(/\[pod\] thinking: .*(1024|"off", "adaptive")/);
    }
  });
});
