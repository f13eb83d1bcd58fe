import { readFileSync } from "node:fs";
import path from "node:path";
import { describe, expect, it } from "vitest";
import { accumulate, accumulateAll, finish, INITIAL_STATE, type SseEvent, type StreamState } from "../../src/provider/stream.js";
import { sseEvents } from "../fake-server/server.js";
import { TurnSchema } from "../fake-server/script.js";
import { REPO_ROOT } from "../helpers/pod-process.js";

/**
 * The pure stream step (src/provider/stream.ts) on the Anthropic SDK's own recorded
 * streams (test/fixtures/sdk-streams/, with their source) and on the cut and variant
 * streams of issue 23 made from them. No HTTP: the SSE text is parsed here, as the SDK
 * parses it, and every `data` object is fed to accumulate.
 */
const FIXTURES = path.join(REPO_ROOT, "test/fixtures/sdk-streams");

function sse(name: string): SseEvent[] {
  const text = readFileSync(path.join(FIXTURES, name), "utf8");
  return text
    .split(/\n\n+/)
    .map((frame) => frame.split("\n").filter((l) => l.startsWith("data:")).map((l) => l.slice(5).trimStart()).join("\n"))
    .filter((data) => data !== "")
    .map((data) => JSON.parse(data) as SseEvent);
}

const types = (events: { type: string }[]) => events.map((e) => e.type);
const ALL = ["basic_response.txt", "tool_use_response.txt", "incomplete_partial_json_response.txt", "stream-a-refusal.sse", "stream-a-toolrefusal.sse"];

describe("accumulate on the SDK's recorded streams", () => {
  it("basic_response: text deltas, one text_done, the message and usage the SDK's MessageStream test expects", () => {
    const r = accumulateAll(sse("basic_response.txt"));
    expect(r.events).toEqual([
      { type: "text_delta", body: { text: "Hello" } },
      { type: "text_delta", body: { text: " there" } },
      { type: "text_delta", body: { text: "!" } },
      { type: "text_done", body: { text: "Hello there!" } },
    ]);
    expect(r.finished).toEqual({
      ok: true,
      response: {
        message: { role: "assistant", content: [{ type: "text", text: "Hello there!" }] },
        stopReason: "end_turn",
        usage: { input_tokens: 11, output_tokens: 6, cache_read_input_tokens: 0, cache_creation_input_tokens: 0 },
        cut: [],
        skipped: [],
      },
    });
    expect(r.state).toMatchObject({ started: true, complete: true, id: "msg_4QpJur2dWWDjF6C758FbBw5vm12BaVipnK", model: "claude-opus-4-8" });
  });

  it("tool_use_response: the call's input in pieces, one tool_call_done with the parsed input", () => {
    const r = accumulateAll(sse("tool_use_response.txt"));
    expect(types(r.events)).toEqual(["text_delta", "text_delta", "text_done", "tool_call_start", "tool_call_args_delta", "tool_call_args_delta", "tool_call_args_delta", "tool_call_args_delta", "tool_call_done"]);
    expect(r.events.filter((e) => e.type === "tool_call_args_delta").map((e) => (e.body as { json: string }).json).join("")).toBe('{"location": "Paris"}');
    expect(r.events.at(-1)).toEqual({ type: "tool_call_done", body: { id: "toolu_01NRLabsLyVHZPKxbKvkfSMn", name: "get_weather", input: { location: "Paris" } } });
    // The message the SDK's own test expects (EXPECTED_TOOL_USE_MESSAGE), in pod's blocks.
    expect(r.finished.ok && r.finished.response).toEqual({
      message: {
        role: "assistant",
        content: [
          { type: "text", text: "I'll check the current weather in Paris for you." },
          { type: "tool_use", id: "toolu_01NRLabsLyVHZPKxbKvkfSMn", name: "get_weather", input: { location: "Paris" } },
        ],
      },
      stopReason: "tool_use",
      usage: { input_tokens: 377, output_tokens: 65, cache_read_input_tokens: 0, cache_creation_input_tokens: 0 },
      cut: [],
      skipped: [],
    });
  });

  it("incomplete_partial_json (max_tokens cuts a tool call mid-JSON): the call is reported cut, never done, never dropped", () => {
    const r = accumulateAll(sse("incomplete_partial_json_response.txt"));
    expect(types(r.events)).toContain("tool_call_start");
    expect(types(r.events)).not.toContain("tool_call_done");
    expect(r.events.find((e) => e.type === "text_done")).toEqual({ type: "text_done", body: { text: "I'll create a comprehensive tax guide for someone with multiple W2s and save it in a file called taxes.txt. Let me do that for you now." } });
    if (!r.finished.ok) throw new Error(r.finished.message);
    const { response } = r.finished;
    expect(response.stopReason).toBe("max_tokens");
    expect(response.cut).toEqual([{ id: "toolu_01EKqbqmZrGRXy18eN7m9kvY", name: "make_file", json: expect.stringMatching(/^\{"filename": "taxes\.txt", "lines_of_text": \[\n"# COMPREHENSIVE.*\n"Filing taxes$/s) }]);
    // Kept in the message (with an object input, as the API wants) so its error result pairs with it.
    expect(response.message.content).toEqual([
      { type: "text", text: expect.stringContaining("Let me do that for you now.") },
      { type: "tool_use", id: "toolu_01EKqbqmZrGRXy18eN7m9kvY", name: "make_file", input: {} },
    ]);
    expect(response.usage).toEqual({ input_tokens: 450, output_tokens: 124, cache_read_input_tokens: 0, cache_creation_input_tokens: 0 });
  });

  it("stream-a-refusal: the signed thinking block and the text are kept, stop_reason refusal", () => {
    const r = accumulateAll(sse("stream-a-refusal.sse"));
    expect(types(r.events)).toEqual(["thinking_delta", "thinking_delta", "thinking_delta", "text_delta", "text_done"]);
    if (!r.finished.ok) throw new Error(r.finished.message);
    expect(r.finished.response.stopReason).toBe("refusal");
    expect(r.finished.response.message.content).toEqual([
      { type: "thinking", thinking: expect.stringMatching(/^Simple educational question.*politely\.$/), signature: "c3ludGhldGljLXNpZ25hdHVyZS1maXh0dXJlLWEtbm90LWEtcmVhbC1zaWduYXR1cmU=" },
      { type: "text", text: "Hi" },
    ]);
    expect(r.finished.response.usage).toMatchObject({ input_tokens: 28, output_tokens: 106 });
  });

  it("stream-a-toolrefusal: server tool blocks pod never asks for are named as skipped, not stored", () => {
    const r = accumulateAll(sse("stream-a-toolrefusal.sse"));
    if (!r.finished.ok) throw new Error(r.finished.message);
    expect(r.finished.response.skipped).toEqual(["server_tool_use", "web_search_tool_result"]);
    expect(r.finished.response.message.content).toEqual([{ type: "text", text: "Here's a summary of this year's solar eclipses and how" }]);
    expect(r.finished.response.stopReason).toBe("refusal");
    // Their input_json_delta pieces are not tool_call events: no pod tool is being called.
    expect(types(r.events)).toEqual(["text_delta", "text_done"]);
  });
});

describe("cut and variant streams (issue 23)", () => {
  for (const name of ALL) {
    it(`${name} cut cleanly before message_stop, at every event, is never a response`, () => {
      const events = sse(name);
      const stop = events.findIndex((e) => e.type === "message_stop");
      expect(stop).toBe(events.length - 1);
      for (let n = 0; n < events.length; n++) {
        const r = accumulateAll(events.slice(0, n));
        expect(r.finished, `cut after ${n} events`).toMatchObject({ ok: false, why: "incomplete" });
      }
      expect(accumulateAll(events).finished.ok).toBe(true);
    });
  }

  it("an error event mid-stream (overloaded) is an error, whatever came before", () => {
    const events = sse("basic_response.txt");
    const broken = [...events.slice(0, 4), { type: "error", error: { type: "overloaded_error", message: "Overloaded" } }];
    expect(accumulateAll(broken).finished).toEqual({ ok: false, why: "error", message: "overloaded_error: Overloaded" });
  });

  it("events after message_stop change nothing", () => {
    const events = sse("basic_response.txt");
    const after = accumulateAll([...events, { type: "content_block_delta", index: 0, delta: { type: "text_delta", text: " extra" } }]);
    expect(after.finished).toEqual(accumulateAll(events).finished);
  });

  it("max_tokens after a closed tool block whose JSON is cut: cut; the same JSON under tool_use: an invalid input, not cut", () => {
    const base = sse("tool_use_response.txt").filter((e) => !(e.type === "content_block_delta" && (e.delta as { partial_json?: string }).partial_json === 'is"}'));
    const withStop = (stop: string) => base.map((e) => (e.type === "message_delta" ? { ...e, delta: { stop_reason: stop, stop_sequence: null } } : e));
    const cut = accumulateAll(withStop("max_tokens")).finished;
    expect(cut.ok && cut.response.cut).toEqual([{ id: "toolu_01NRLabsLyVHZPKxbKvkfSMn", name: "get_weather", json: '{"location": "Par' }]);
    const invalid = accumulateAll(withStop("tool_use")).finished;
    expect(invalid.ok && invalid.response.cut).toEqual([]);
    expect(invalid.ok && invalid.response.message.content[1]).toMatchObject({ type: "tool_use", input: { __invalid_input: '{"location": "Par' } });
  });

  it("a stop_reason pod does not know, or none at all, is passed on as it is (the run loop decides)", () => {
    const events = sse("basic_response.txt");
    const odd = accumulateAll(events.map((e) => (e.type === "message_delta" ? { ...e, delta: { stop_reason: "something_new" } } : e))).finished;
    expect(odd.ok && odd.response.stopReason).toBe("something_new");
    const none = accumulateAll(events.filter((e) => e.type !== "message_delta")).finished;
    expect(none.ok && none.response.stopReason).toBe(null);
  });

  it("a thinking block cut before its signature (max_tokens) is left out: the API would refuse it back", () => {
    const events = sse("stream-a-refusal.sse");
    const cutAt = events.findIndex((e) => e.type === "content_block_delta" && (e.delta as { type: string }).type === "signature_delta");
    const cut = [...events.slice(0, cutAt), { type: "message_delta", delta: { stop_reason: "max_tokens" }, usage: { output_tokens: 99 } }, { type: "message_stop" }];
    const r = accumulateAll(cut).finished;
    expect(r.ok && r.response.message.content).toEqual([]);
    expect(r.ok && r.response.stopReason).toBe("max_tokens");
  });

  it("garbage indices and unknown event types are passed over", () => {
    const events = sse("basic_response.txt");
    const noisy = [events[0]!, { type: "content_block_start", index: -1, content_block: { type: "text", text: "x" } }, { type: "content_block_delta", index: 1e9, delta: { type: "text_delta", text: "y" } }, { type: "future_event" }, ...events.slice(1)];
    expect(accumulateAll(noisy).finished).toEqual(accumulateAll(events).finished);
  });
});

describe("accumulate is a pure step", () => {
  function deepFreeze<T>(o: T): T {
    if (o && typeof o === "object" && !Object.isFrozen(o)) {
      Object.freeze(o);
      for (const v of Object.values(o)) deepFreeze(v);
    }
    return o;
  }

  for (const name of ALL) {
    it(`${name}: never changes the state it is given, and the same events give the same result`, () => {
      const events = sse(name);
      const states: StreamState[] = [INITIAL_STATE];
      const snapshots: string[] = [JSON.stringify(INITIAL_STATE)];
      let state = INITIAL_STATE;
      for (const ev of events) {
        // Frozen: any write to an earlier state (or the event) throws in strict mode.
        const step = accumulate(deepFreeze(state), deepFreeze(ev));
        state = step.state;
        states.push(state);
        snapshots.push(JSON.stringify(state));
      }
      states.forEach((s, i) => expect(JSON.stringify(s)).toBe(snapshots[i]));
      expect(accumulateAll(events)).toEqual(accumulateAll(events));
      expect(finish(state)).toEqual(accumulateAll(events).finished);
    });
  }

  it("imports nothing at run time (types only): a replay can use it without the SDK", () => {
    const source = readFileSync(path.join(REPO_ROOT, "src/provider/stream.ts"), "utf8");
    const imports = source.split("\n").filter((l) => /^import\b/.test(l));
    expect(imports.length).toBeGreaterThan(0);
    for (const line of imports) expect(line).toMatch(/^import type /);
  });
});

describe("the fake server's wire format round-trips through accumulate", () => {
  it("text, thinking, redacted thinking and tool calls come out as scripted", () => {
    const turn = TurnSchema.parse({
      response: {
        content: [
          { type: "thinking", thinking: "Let me think about the file.", signature: "sig-123" },
          { type: "redacted_thinking", data: "opaque==" },
          { type: "text", text: "I will read it, then edit it: ünïcödé ✓." },
          { type: "tool_use", id: "toolu_a", name: "Read", input: { path: "a.txt" } },
          { type: "tool_use", id: "toolu_b", name: "Edit", input: { path: "a.txt", old_string: "x\n", new_string: "y\n" } },
        ],
        stop_reason: "tool_use",
        usage: { input_tokens: 120, output_tokens: 44, cache_read_input_tokens: 7, cache_creation_input_tokens: 3 },
      },
      delivery: { text_split: 3, ping_every: 2 },
    });
    const r = accumulateAll(sseEvents(turn, { model: "m" }, 1).map(([, data]) => data as SseEvent));
    if (!r.finished.ok) throw new Error(r.finished.message);
    expect(r.finished.response.message.content).toEqual(turn.response.content);
    expect(r.finished.response.usage).toEqual(turn.response.usage);
    expect(r.finished.response.stopReason).toBe("tool_use");
    expect(r.events.filter((e) => e.type === "tool_call_done").map((e) => e.body)).toEqual([
      { id: "toolu_a", name: "Read", input: { path: "a.txt" } },
      { id: "toolu_b", name: "Edit", input: { path: "a.txt", old_string: "x\n", new_string: "y\n" } },
    ]);
  });
});
