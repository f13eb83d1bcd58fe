// The Messages API stream as one pure step (issue 23, item 6): a raw SSE event in, the
// message so far and the pod events it implies out. No I/O, no SDK, no clock: the live turn
// (turn.ts) feeds it the events as they arrive, and a replay of a recorded response can feed
// it the same events and get the same message and the same event lines.
//
// May import: types only (events/schema.ts, conversation/). Nothing here runs the SDK.
import type { EventBody } from "../events/schema.js";
import type { Usage } from "../conversation/usage.js";
import type { ContentBlock, Message } from "../conversation/messages.js";

/** One SSE event's `data:` object, as the Messages API sends it. Unknown types are passed over. */
export type SseEvent = { type: string } & Record<string, unknown>;

/** The event lines a stream implies, as type and body (the runtime prints them, src/runtime/emit.ts). */
export type RelayedType = "text_delta" | "text_done" | "thinking_delta" | "tool_call_start" | "tool_call_args_delta" | "tool_call_done";
export type RelayedEvent = { [T in RelayedType]: { type: T; body: EventBody<T> } }[RelayedType];

/** One content block as it arrives; `done` once its content_block_stop came. */
export type BlockState =
  | { kind: "text"; text: string; done: boolean }
  | { kind: "tool_use"; id: string; name: string; json: string; done: boolean }
  | { kind: "thinking"; thinking: string; signature: string; done: boolean }
  | { kind: "redacted_thinking"; data: string; done: boolean }
  /** A block type pod does not keep (server tools pod never enables): named, not stored. */
  | { kind: "other"; type: string; done: boolean };

/**
 * The response so far. Never changed in place: accumulate returns a new state (the blocks
 * array and the block that changed are new; the rest is shared), so a caller may keep any
 * earlier state, e.g. to see what had arrived when the stream broke.
 */
export interface StreamState {
  /** message_start arrived. */
  readonly started: boolean;
  readonly id: string | null;
  readonly model: string | null;
  /** By content-block index. */
  readonly blocks: readonly (BlockState | undefined)[];
  /** From message_delta; null until then. */
  readonly stopReason: string | null;
  readonly usage: Usage;
  /** message_stop arrived: the response is whole. A stream that ends before it is broken. */
  readonly complete: boolean;
  /** An `error` event in the stream (the SDK throws on it first; a replay meets it here). */
  readonly error: { type: string; message: string } | null;
}

export const INITIAL_STATE: StreamState = Object.freeze({
  started: false,
  id: null,
  model: null,
  blocks: Object.freeze([]) as readonly BlockState[],
  stopReason: null,
  usage: Object.freeze({ input_tokens: 0, output_tokens: 0, cache_read_input_tokens: 0, cache_creation_input_tokens: 0 }),
  complete: false,
  error: null,
});

export interface Step {
  state: StreamState;
  events: RelayedEvent[];
}

const NONE: RelayedEvent[] = [];

/**
 * One SSE event applied to the response so far. `events` are the pod event lines it
 * implies, in order: text_delta/text_done for text, tool_call_start/args_delta/done for
 * tool use, thinking_delta for extended thinking. Events after message_stop change nothing.
 */
export function accumulate(state: StreamState, ev: SseEvent): Step {
  if (state.complete) return { state, events: NONE };
  switch (ev.type) {
    case "message_start": {
      const m = (ev.message ?? {}) as { id?: unknown; model?: unknown; usage?: Partial<Record<keyof Usage, number | null>> };
      const u = m.usage ?? {};
      const usage: Usage = {
        input_tokens: u.input_tokens ?? 0,
        output_tokens: u.output_tokens ?? 0,
        cache_read_input_tokens: u.cache_read_input_tokens ?? 0,
        cache_creation_input_tokens: u.cache_creation_input_tokens ?? 0,
      };
      return { state: { ...state, started: true, id: str(m.id), model: str(m.model), usage }, events: NONE };
    }
    case "content_block_start": {
      const index = indexOf(ev);
      if (index < 0) return { state, events: NONE };
      const b = (ev.content_block ?? {}) as Record<string, unknown> & { type?: string };
      switch (b.type) {
        case "text": {
          const text = str(b.text) ?? "";
          return { state: withBlock(state, index, { kind: "text", text, done: false }), events: text ? [{ type: "text_delta", body: { text } }] : NONE };
        }
        case "tool_use": {
          const id = str(b.id) ?? "";
          const name = str(b.name) ?? "";
          return { state: withBlock(state, index, { kind: "tool_use", id, name, json: "", done: false }), events: [{ type: "tool_call_start", body: { id, name } }] };
        }
        case "thinking": {
          const thinking = str(b.thinking) ?? "";
          const block: BlockState = { kind: "thinking", thinking, signature: str(b.signature) ?? "", done: false };
          return { state: withBlock(state, index, block), events: thinking ? [{ type: "thinking_delta", body: { text: thinking } }] : NONE };
        }
        case "redacted_thinking":
          // Encrypted, nothing to show; it arrives whole and goes back whole.
          return { state: withBlock(state, index, { kind: "redacted_thinking", data: str(b.data) ?? "", done: false }), events: NONE };
        default:
          return { state: withBlock(state, index, { kind: "other", type: String(b.type), done: false }), events: NONE };
      }
    }
    case "content_block_delta": {
      const index = indexOf(ev);
      const p = index < 0 ? undefined : state.blocks[index];
      const d = (ev.delta ?? {}) as Record<string, unknown> & { type?: string };
      if (!p || p.done) return { state, events: NONE };
      if (d.type === "text_delta" && p.kind === "text") {
        const text = str(d.text) ?? "";
        return { state: withBlock(state, index, { ...p, text: p.text + text }), events: [{ type: "text_delta", body: { text } }] };
      }
      if (d.type === "input_json_delta" && p.kind === "tool_use") {
        const json = str(d.partial_json) ?? "";
        if (!json) return { state, events: NONE };
        return { state: withBlock(state, index, { ...p, json: p.json + json }), events: [{ type: "tool_call_args_delta", body: { id: p.id, json } }] };
      }
      if (d.type === "thinking_delta" && p.kind === "thinking") {
        const text = str(d.thinking) ?? "";
        if (!text) return { state, events: NONE };
        return { state: withBlock(state, index, { ...p, thinking: p.thinking + text }), events: [{ type: "thinking_delta", body: { text } }] };
      }
      if (d.type === "signature_delta" && p.kind === "thinking") {
        return { state: withBlock(state, index, { ...p, signature: p.signature + (str(d.signature) ?? "") }), events: NONE };
      }
      return { state, events: NONE };
    }
    case "content_block_stop": {
      const index = indexOf(ev);
      const p = index < 0 ? undefined : state.blocks[index];
      if (!p || p.done) return { state, events: NONE };
      const next = withBlock(state, index, { ...p, done: true });
      if (p.kind === "text") return { state: next, events: [{ type: "text_done", body: { text: p.text } }] };
      if (p.kind === "tool_use") return { state: next, events: [{ type: "tool_call_done", body: { id: p.id, name: p.name, input: parseToolInput(p.json) } }] };
      return { state: next, events: NONE };
    }
    case "message_delta": {
      const d = (ev.delta ?? {}) as { stop_reason?: unknown };
      const u = (ev.usage ?? {}) as Partial<Record<keyof Usage, number | null>>;
      const usage: Usage = {
        input_tokens: u.input_tokens ?? state.usage.input_tokens,
        output_tokens: u.output_tokens ?? state.usage.output_tokens,
        cache_read_input_tokens: u.cache_read_input_tokens ?? state.usage.cache_read_input_tokens,
        cache_creation_input_tokens: u.cache_creation_input_tokens ?? state.usage.cache_creation_input_tokens,
      };
      return { state: { ...state, stopReason: str(d.stop_reason) ?? state.stopReason, usage }, events: NONE };
    }
    case "message_stop":
      return { state: { ...state, complete: true }, events: NONE };
    case "error": {
      const e = (ev.error ?? {}) as { type?: unknown; message?: unknown };
      return { state: { ...state, error: { type: str(e.type) ?? "error", message: str(e.message) ?? "" } }, events: NONE };
    }
    default:
      // ping, and event types newer than this code.
      return { state, events: NONE };
  }
}

/** A tool call the response ended in the middle of: stored with its raw input, never run. */
export interface CutCall {
  id: string;
  name: string;
  /** The partial JSON that arrived. */
  json: string;
}

/** A whole response, ready to store. */
export interface TurnResponse {
  /**
   * The assistant message: every block, in order. A cut tool call is kept as a tool_use
   * with `{}` as its input (the API needs an object) so its error result pairs with it;
   * a thinking block cut before its signature and empty text blocks are left out (the API
   * refuses both in later requests).
   */
  message: Message;
  /** null when message_delta never said: the caller treats it as an unknown stop reason. */
  stopReason: string | null;
  usage: Usage;
  /** Tool calls that did not arrive whole (see cutCalls). */
  cut: CutCall[];
  /** Block types received but not kept (server tools pod never asks for). */
  skipped: string[];
}

export type Finished = { ok: true; response: TurnResponse } | { ok: false; why: "incomplete" | "error"; message: string };

/**
 * The response once the stream has ended. Without message_stop it is not a response
 * (a proxy or load balancer closed the stream early): `incomplete`, which the caller
 * retries like a dropped connection and never stores.
 */
export function finish(state: StreamState): Finished {
  if (state.error) return { ok: false, why: "error", message: `${state.error.type}: ${state.error.message}` };
  if (!state.complete) {
    const what = !state.started ? "before message_start" : state.stopReason === null ? "in the middle of the response" : "after message_delta";
    return { ok: false, why: "incomplete", message: `the response stream ended without message_stop (${what}): the response is not whole` };
  }
  const content: ContentBlock[] = [];
  const cut: CutCall[] = [];
  const skipped: string[] = [];
  for (const b of state.blocks) {
    if (!b) continue;
    switch (b.kind) {
      case "text":
        if (b.text !== "") content.push({ type: "text", text: b.text });
        break;
      case "thinking":
        // Kept even when empty (display "omitted"): the API checks the signature on the way back.
        if (b.done && b.signature !== "") content.push({ type: "thinking", thinking: b.thinking, signature: b.signature });
        break;
      case "redacted_thinking":
        content.push({ type: "redacted_thinking", data: b.data });
        break;
      case "tool_use":
        if (isCut(b, state.stopReason)) {
          cut.push({ id: b.id, name: b.name, json: b.json });
          content.push({ type: "tool_use", id: b.id, name: b.name, input: {} });
        } else content.push({ type: "tool_use", id: b.id, name: b.name, input: parseToolInput(b.json) });
        break;
      case "other":
        skipped.push(b.type);
        break;
    }
  }
  return { ok: true, response: { message: { role: "assistant", content }, stopReason: state.stopReason, usage: state.usage, cut, skipped } };
}

/**
 * A tool call is cut when its block never closed, or when the response stopped at
 * max_tokens and its input is not a JSON object: running it would run something the
 * model did not finish saying.
 */
function isCut(b: Extract<BlockState, { kind: "tool_use" }>, stopReason: string | null): boolean {
  if (!b.done) return true;
  return stopReason === "max_tokens" && "__invalid_input" in parseToolInput(b.json);
}

/** A whole stream at once: the events in order and how it finished (for tests and replays). */
export function accumulateAll(events: readonly SseEvent[]): { state: StreamState; events: RelayedEvent[]; finished: Finished } {
  let state = INITIAL_STATE;
  const out: RelayedEvent[] = [];
  for (const ev of events) {
    const step = accumulate(state, ev);
    state = step.state;
    for (const e of step.events) out.push(e);
  }
  return { state, events: out, finished: finish(state) };
}

/**
 * The model streams tool input as JSON text. An unparsable or non-object input is
 * kept as `{}` plus the raw text, so the tool call gets a clear validation error
 * instead of crashing the run.
 */
export function parseToolInput(raw: string): Record<string, unknown> {
  if (raw.trim() === "") return {};
  try {
    const parsed = JSON.parse(raw) as unknown;
    if (parsed && typeof parsed === "object" && !Array.isArray(parsed)) return parsed as Record<string, unknown>;
    return { __invalid_input: raw };
  } catch {
    return { __invalid_input: raw };
  }
}

function withBlock(state: StreamState, index: number, block: BlockState): StreamState {
  const blocks = state.blocks.slice();
  blocks[index] = block;
  return { ...state, blocks };
}

/** A content-block index, or -1 when the event has none worth trusting (a huge one would make a huge array). */
function indexOf(ev: SseEvent): number {
  const i = ev.index;
  return typeof i === "number" && Number.isInteger(i) && i >= 0 && i < 10_000 ? i : -1;
}

function str(v: unknown): string | null {
  return typeof v === "string" ? v : null;
}
