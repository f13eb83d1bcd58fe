import type Anthropic from "@anthropic-ai/sdk";
import type { MessageCreateParamsBase, RawMessageStreamEvent } from "@anthropic-ai/sdk/resources/messages";
import { PodError } from "../errors.js";
import type { Usage } from "../events/schema.js";
import type { EventSink } from "../events/sink.js";
import type { ContentBlock, Message } from "../store/messages.js";

export type ModelClient = Anthropic;

/**
 * Creates the SDK client. The SDK is imported here, not at the top of the module,
 * so commands that never call the model (status, history, --version) start fast.
 * The key comes from ANTHROPIC_API_KEY (or ANTHROPIC_AUTH_TOKEN); the base URL
 * from ANTHROPIC_BASE_URL, which the SDK reads itself.
 */
export async function createModelClient(env = process.env): Promise<ModelClient> {
  const apiKey = env.ANTHROPIC_API_KEY?.trim();
  const authToken = env.ANTHROPIC_AUTH_TOKEN?.trim();
  if (!apiKey && !authToken) {
    throw new PodError("invalid_input", "ANTHROPIC_API_KEY is not set", "export ANTHROPIC_API_KEY=<your key> (or ANTHROPIC_AUTH_TOKEN) before `pod run`");
  }
  const { default: AnthropicClient } = await import("@anthropic-ai/sdk");
  return new AnthropicClient({
    ...(apiKey ? { apiKey } : { authToken: authToken! }),
    maxRetries: readInt(env.POD_MAX_RETRIES, 2),
    timeout: readInt(env.POD_REQUEST_TIMEOUT_MS, 10 * 60_000),
    logLevel: "off",
  });
}

function readInt(value: string | undefined, fallback: number): number {
  const n = value === undefined ? NaN : Number(value);
  return Number.isFinite(n) && n >= 0 ? n : fallback;
}

export interface TurnResponse {
  message: Message;
  stopReason: string;
  usage: Usage;
}

/**
 * Streams one model response and relays it as event lines as it arrives:
 * text_delta/text_done for text, tool_call_start/args_delta/done for tool use.
 * Returns the complete assistant message; throws on provider errors or abort.
 */
export async function streamTurn(
  client: ModelClient,
  params: MessageCreateParamsBase,
  sink: EventSink,
  signal: AbortSignal,
  idleTimeoutMs = streamIdleTimeoutMs(),
): Promise<TurnResponse> {
  // The SDK's timeout covers the wait for response headers, not a stream that goes
  // silent halfway; this watchdog aborts a stream with no event for idleTimeoutMs.
  const watchdog = new AbortController();
  // One timer checks the time of the last event, rather than a timer re-armed per event:
  // a long stream has tens of thousands of events.
  let lastEventAt = Date.now();
  const timer = setInterval(() => {
    if (Date.now() - lastEventAt >= idleTimeoutMs) watchdog.abort(new StreamStalledError(idleTimeoutMs));
  }, Math.min(1000, Math.max(10, idleTimeoutMs / 4)));
  let events = 0;
  const onEvent = () => {
    events++;
    lastEventAt = Date.now();
  };
  try {
    return await relayStream(client, params, sink, AbortSignal.any([signal, watchdog.signal]), onEvent);
  } catch (err) {
    if (watchdog.signal.aborted && !signal.aborted) throw watchdog.signal.reason;
    // Once events have flowed the SDK will not retry: mark it so the run loop can.
    if (events > 0 && !signal.aborted) throw new StreamBrokenError(err);
    throw err;
  } finally {
    clearInterval(timer);
  }
}

/** A stream that failed after it had started delivering events. */
export class StreamBrokenError extends Error {
  constructor(override readonly cause: unknown) {
    super(cause instanceof Error ? cause.message : String(cause));
  }
}

export class StreamStalledError extends Error {
  constructor(ms: number) {
    super(`the response stream stalled: no data for ${Math.round(ms / 1000)}s`);
  }
}

function streamIdleTimeoutMs(env = process.env): number {
  return readInt(env.POD_STREAM_IDLE_TIMEOUT_MS, 90_000);
}

async function relayStream(
  client: ModelClient,
  params: MessageCreateParamsBase,
  sink: EventSink,
  signal: AbortSignal,
  onActivity: () => void,
): Promise<TurnResponse> {
  const stream = client.messages.stream(params, { signal });
  const blocks: ContentBlock[] = [];
  // Per content-block index: the text or raw JSON gathered so far.
  const partial = new Map<number, { kind: "text" | "tool_use"; id: string; name: string; buf: string }>();
  let stopReason = "end_turn";
  const usage: Usage = { input_tokens: 0, output_tokens: 0, cache_read_input_tokens: 0, cache_creation_input_tokens: 0 };

  for await (const ev of stream as AsyncIterable<RawMessageStreamEvent>) {
    onActivity();
    switch (ev.type) {
      case "message_start": {
        const u = ev.message.usage;
        usage.input_tokens = u.input_tokens ?? 0;
        usage.output_tokens = u.output_tokens ?? 0;
        usage.cache_read_input_tokens = u.cache_read_input_tokens ?? 0;
        usage.cache_creation_input_tokens = u.cache_creation_input_tokens ?? 0;
        break;
      }
      case "content_block_start": {
        const b = ev.content_block;
        if (b.type === "text") {
          partial.set(ev.index, { kind: "text", id: "", name: "", buf: b.text ?? "" });
          if (b.text) sink.emit("text_delta", { text: b.text });
        } else if (b.type === "tool_use") {
          partial.set(ev.index, { kind: "tool_use", id: b.id, name: b.name, buf: "" });
          sink.emit("tool_call_start", { id: b.id, name: b.name });
        }
        break;
      }
      case "content_block_delta": {
        const p = partial.get(ev.index);
        if (!p) break;
        if (ev.delta.type === "text_delta") {
          p.buf += ev.delta.text;
          sink.emit("text_delta", { text: ev.delta.text });
        } else if (ev.delta.type === "input_json_delta") {
          p.buf += ev.delta.partial_json;
          if (ev.delta.partial_json) sink.emit("tool_call_args_delta", { id: p.id, json: ev.delta.partial_json });
        }
        break;
      }
      case "content_block_stop": {
        const p = partial.get(ev.index);
        if (!p) break;
        if (p.kind === "text") {
          blocks.push({ type: "text", text: p.buf });
          sink.emit("text_done", { text: p.buf });
        } else {
          const input = parseToolInput(p.buf);
          blocks.push({ type: "tool_use", id: p.id, name: p.name, input });
          sink.emit("tool_call_done", { id: p.id, name: p.name, input });
        }
        partial.delete(ev.index);
        break;
      }
      case "message_delta": {
        if (ev.delta.stop_reason) stopReason = ev.delta.stop_reason;
        const u = ev.usage;
        usage.output_tokens = u.output_tokens ?? usage.output_tokens;
        if (u.input_tokens != null) usage.input_tokens = u.input_tokens;
        if (u.cache_read_input_tokens != null) usage.cache_read_input_tokens = u.cache_read_input_tokens;
        if (u.cache_creation_input_tokens != null) usage.cache_creation_input_tokens = u.cache_creation_input_tokens;
        break;
      }
      default:
        break;
    }
  }
  // The iterator ends quietly if the stream closes early; the SDK's own completion says whether it was whole.
  await stream.done();
  // The API refuses empty text blocks in later requests, so they are not kept.
  const content = blocks.filter((b) => b.type !== "text" || b.text !== "");
  return { message: { role: "assistant", content }, stopReason, usage };
}

/**
 * The model streams tool input as JSON text. An unparsable or non-object input is
 * kept as `{}` plus the raw text, so the tool call gets a clear validation error
 * instead of crashing the run.
 */
function parseToolInput(raw: string): Record<string, unknown> {
  if (raw.trim() === "") return {};
  try {
    const parsed = JSON.parse(raw) as unknown;
    if (parsed && typeof parsed === "object" && !Array.isArray(parsed)) return parsed as Record<string, unknown>;
    return { __invalid_input: raw };
  } catch {
    return { __invalid_input: raw };
  }
}

/** Whether pod itself should ask again: only where the SDK's own retries did not apply. */
export function shouldRetryTurn(err: unknown): boolean {
  return (err instanceof StreamBrokenError || err instanceof StreamStalledError) && isTransient(err);
}

/**
 * Whether asking again may succeed: dropped or stalled connections, malformed
 * stream data, overload and server errors. Not: bad requests, auth, unknown model.
 * (The SDK has already retried HTTP 408/409/429/5xx before the stream started.)
 */
export function isTransient(err: unknown): boolean {
  if (err instanceof StreamBrokenError) return isTransient(err.cause);
  if (err instanceof StreamStalledError || err instanceof SyntaxError) return true;
  const e = err as { status?: number; error?: { error?: { type?: string } } };
  if (typeof e.status === "number") return e.status === 408 || e.status === 409 || e.status === 429 || e.status >= 500;
  const type = e.error?.error?.type;
  if (type) return type === "overloaded_error" || type === "api_error" || type === "rate_limit_error";
  return true; // no status: the connection broke or the stream ended early
}

/** The message of a provider error, without anything that could carry the API key. */
export function describeProviderError(err: unknown): string {
  if (err instanceof StreamBrokenError) return describeProviderError(err.cause);
  const e = err as { status?: number; message?: string; error?: { error?: { message?: string; type?: string } } };
  const inner = e.error?.error;
  const text = inner?.message ? `${inner.type ?? "error"}: ${inner.message}` : (e.message ?? String(err));
  return redact(e.status ? `HTTP ${e.status} ${text}` : text);
}

/** Removes anything that looks like an Anthropic key, and the configured key itself. */
export function redact(text: string, env = process.env): string {
  let out = text.replace(/sk-ant-[A-Za-z0-9_-]+/g, "[redacted]");
  for (const secret of [env.ANTHROPIC_API_KEY, env.ANTHROPIC_AUTH_TOKEN]) {
    if (secret && secret.length >= 8) out = out.split(secret).join("[redacted]");
  }
  return out;
}
