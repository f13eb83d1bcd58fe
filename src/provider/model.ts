import type Anthropic from "@anthropic-ai/sdk";
import type { MessageCreateParamsBase, RawMessageStreamEvent } from "@anthropic-ai/sdk/resources/messages";
import { PodError } from "../errors.js";
import type { Usage } from "../events/schema.js";
import type { EventSink } from "../events/sink.js";
import type { ContentBlock, Message } from "../store/messages.js";
import { readCredential } from "./credentials.js";
import { Redactor, redactKeyShapes } from "../redact/redactor.js";
import { leanFetch } from "./lean-fetch.js";
import { proxyFetch } from "./proxy.js";
import { apiHost, describeConnectionError, networkPolicy } from "./retry.js";

export type ModelClient = Anthropic;

/**
 * Creates the SDK client. The SDK is imported here, not at the top of the module,
 * so commands that never call the model (status, history, --version) start fast.
 * The key comes from ANTHROPIC_API_KEY (or ANTHROPIC_AUTH_TOKEN, sent as a bearer token),
 * checked before any request (credentials.ts); the base URL from ANTHROPIC_BASE_URL,
 * which the SDK reads itself; a proxy from HTTPS_PROXY/HTTP_PROXY/NO_PROXY (proxy.ts).
 */
export async function createModelClient(env = process.env): Promise<ModelClient> {
  const credential = readCredential(env);
  const { default: AnthropicClient } = await import("@anthropic-ai/sdk");
  const baseURL = env.ANTHROPIC_BASE_URL?.trim() || "https://api.anthropic.com";
  const proxied = await proxyFetch(baseURL, env);
  return new AnthropicClient({
    // Exactly one credential; null stops the SDK reading the other variable itself.
    ...("apiKey" in credential ? { apiKey: credential.apiKey, authToken: null } : { authToken: credential.authToken, apiKey: null }),
    baseURL,
    // Turns do their own, visible retries (run-loop.ts); these apply to compaction's requests.
    maxRetries: readInt(env.POD_MAX_RETRIES, 2),
    // Non-streamed requests (compaction's summary) answer only when done, so this is long;
    // a turn's stream has its own first-byte and idle limits (streamTurn).
    timeout: 10 * 60_000,
    logLevel: "off",
    // Without a proxy, node:http (lean-fetch.ts), cheaper per request than the global fetch;
    // POD_FETCH_GLOBAL=1 goes back to the global fetch (an escape hatch, and the bench's baseline).
    ...(proxied ? { fetch: proxied.fetch, fetchOptions: proxied.fetchOptions as Record<string, unknown> } : process.env.POD_FETCH_GLOBAL === "1" ? {} : { fetch: leanFetch() }),
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

export interface StreamLimits {
  /** From sending the request to its first stream event. */
  firstEventTimeoutMs: number;
  /** Longest gap between two events after that. */
  idleTimeoutMs: number;
  /** A `waiting` line after this much silence on stdout while the provider is slow. */
  heartbeatMs: number;
  /** The turn the `waiting` lines name. */
  turn: number;
}

export function streamLimits(turn: number, env = process.env): StreamLimits {
  const p = networkPolicy(env);
  return { firstEventTimeoutMs: p.requestTimeoutMs, idleTimeoutMs: p.idleTimeoutMs, heartbeatMs: p.heartbeatMs, turn };
}

/**
 * Streams one model response and relays it as event lines as it arrives:
 * text_delta/text_done for text, tool_call_start/args_delta/done for tool use,
 * thinking_delta for extended thinking.
 * Returns the complete assistant message; throws on provider errors or abort.
 * No SDK retries here: the caller retries, so that every wait is on stdout.
 */
export async function streamTurn(
  client: ModelClient,
  params: MessageCreateParamsBase,
  sink: EventSink,
  signal: AbortSignal,
  limits: StreamLimits = streamLimits(1),
  /** Awaited before the first event is relayed (the run loop's durability gate: the previous turn's fsync). */
  beforeFirstEvent?: () => Promise<void>,
): Promise<TurnResponse> {
  // The SDK's timeout covers the wait for response headers, not a stream that goes
  // silent halfway; this watchdog aborts a request with no event for too long: before
  // the first event, firstEventTimeoutMs (covers connect and headers too); then idleTimeoutMs.
  const watchdog = new AbortController();
  const host = apiHost(client.baseURL);
  // One timer checks the time of the last event, rather than a timer re-armed per event:
  // a long stream has tens of thousands of events.
  const startedAt = Date.now();
  let lastEventAt = startedAt;
  let lastLineAt = startedAt;
  let lines = 0;
  let linesSeen = 0;
  let events = 0;
  const tick = Math.min(1000, Math.max(10, Math.min(limits.idleTimeoutMs, limits.firstEventTimeoutMs, limits.heartbeatMs) / 4));
  const timer = setInterval(() => {
    const now = Date.now();
    if (events === 0 && now - startedAt >= limits.firstEventTimeoutMs) watchdog.abort(new StreamStalledError(host, limits.firstEventTimeoutMs, false));
    else if (events > 0 && now - lastEventAt >= limits.idleTimeoutMs) watchdog.abort(new StreamStalledError(host, limits.idleTimeoutMs, true));
    // A consumer of stdout never sees more than heartbeatMs of silence while pod waits.
    if (lines !== linesSeen) {
      linesSeen = lines;
      lastLineAt = now;
    } else if (now - lastLineAt >= limits.heartbeatMs && !watchdog.signal.aborted) {
      lastLineAt = now;
      sink.emit("waiting", { turn: limits.turn, waiting_for: "response", waited_ms: now - (events > 0 ? lastEventAt : startedAt) });
    }
  }, tick);
  const onEvent = () => {
    events++;
    lastEventAt = Date.now();
  };
  const counted = { emit: ((type, body) => (lines++, sink.emit(type, body))) as EventSink["emit"] };
  try {
    return await relayStream(client, params, counted, AbortSignal.any([signal, watchdog.signal]), onEvent, beforeFirstEvent);
  } catch (err) {
    // pod's own failure (the gate's fsync), not the provider's: passed on as it is.
    if (err instanceof PodError) throw err;
    if (watchdog.signal.aborted && !signal.aborted) throw watchdog.signal.reason;
    // Once events have flowed the request cannot be replayed quietly: mark it so the run loop says so.
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
  constructor(host: string, ms: number, midStream: boolean) {
    super(
      midStream
        ? `the response stream from ${host} stalled: no data for ${seconds(ms)} (POD_STREAM_IDLE_TIMEOUT_MS)`
        : `no response from ${host} within ${seconds(ms)} (POD_REQUEST_TIMEOUT_MS)`,
    );
  }
}

function seconds(ms: number): string {
  return ms >= 1000 ? `${Math.round(ms / 1000)}s` : `${ms}ms`;
}

async function relayStream(
  client: ModelClient,
  params: MessageCreateParamsBase,
  sink: Pick<EventSink, "emit">,
  signal: AbortSignal,
  onActivity: () => void,
  beforeFirstEvent: (() => Promise<void>) | undefined,
): Promise<TurnResponse> {
  const stream = client.messages.stream(params, { signal, maxRetries: 0 });
  const blocks: ContentBlock[] = [];
  // Per content-block index: the text, raw JSON or thinking gathered so far; `extra` is a
  // thinking block's signature or a redacted_thinking block's data.
  const partial = new Map<number, { kind: "text" | "tool_use" | "thinking" | "redacted_thinking"; id: string; name: string; buf: string; extra: string }>();
  let stopReason = "end_turn";
  const usage: Usage = { input_tokens: 0, output_tokens: 0, cache_read_input_tokens: 0, cache_creation_input_tokens: 0 };

  for await (const ev of stream as AsyncIterable<RawMessageStreamEvent>) {
    if (beforeFirstEvent) {
      await beforeFirstEvent();
      beforeFirstEvent = undefined;
    }
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
          partial.set(ev.index, { kind: "text", id: "", name: "", buf: b.text ?? "", extra: "" });
          if (b.text) sink.emit("text_delta", { text: b.text });
        } else if (b.type === "tool_use") {
          partial.set(ev.index, { kind: "tool_use", id: b.id, name: b.name, buf: "", extra: "" });
          sink.emit("tool_call_start", { id: b.id, name: b.name });
        } else if (b.type === "thinking") {
          partial.set(ev.index, { kind: "thinking", id: "", name: "", buf: b.thinking ?? "", extra: b.signature ?? "" });
          if (b.thinking) sink.emit("thinking_delta", { text: b.thinking });
        } else if (b.type === "redacted_thinking") {
          // Encrypted, nothing to show; it arrives whole and goes back whole.
          partial.set(ev.index, { kind: "redacted_thinking", id: "", name: "", buf: "", extra: b.data });
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
        } else if (ev.delta.type === "thinking_delta") {
          p.buf += ev.delta.thinking;
          if (ev.delta.thinking) sink.emit("thinking_delta", { text: ev.delta.thinking });
        } else if (ev.delta.type === "signature_delta") {
          p.extra += ev.delta.signature;
        }
        break;
      }
      case "content_block_stop": {
        const p = partial.get(ev.index);
        if (!p) break;
        if (p.kind === "text") {
          blocks.push({ type: "text", text: p.buf });
          sink.emit("text_done", { text: p.buf });
        } else if (p.kind === "thinking") {
          // Kept even when empty (display "omitted"): the API checks the signature on the way back.
          blocks.push({ type: "thinking", thinking: p.buf, signature: p.extra });
        } else if (p.kind === "redacted_thinking") {
          blocks.push({ type: "redacted_thinking", data: p.extra });
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
  if (beforeFirstEvent) await beforeFirstEvent();
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

/** Whether pod should ask again: every transient fault (turns make no SDK-level retries). */
export function shouldRetryTurn(err: unknown): boolean {
  return isTransient(err);
}

/** HTTP 401/403: the credential was refused; permanent (credentials.ts words it). */
export function credentialRejected(err: unknown): number | undefined {
  const status = (err as { status?: unknown } | null)?.status;
  return status === 401 || status === 403 ? status : undefined;
}

/**
 * Whether asking again may succeed: refused, dropped or stalled connections, malformed
 * stream data, overload and server errors (HTTP 408/409/429/5xx). Not: bad requests,
 * auth, unknown model.
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

/**
 * The message of a provider error, without anything that could carry the API key.
 * With the client's base URL, a connection failure names the host and the cause.
 */
export function describeProviderError(err: unknown, baseUrl?: string): string {
  if (err instanceof StreamBrokenError) return describeProviderError(err.cause, baseUrl);
  const connection = baseUrl === undefined ? undefined : describeConnectionError(err, baseUrl);
  if (connection) return redact(connection);
  const e = err as { status?: number; message?: string; error?: { error?: { message?: string; type?: string } } };
  const inner = e.error?.error;
  const text = inner?.message ? `${inner.type ?? "error"}: ${inner.message}` : (e.message ?? String(err));
  return redact(e.status ? `HTTP ${e.status} ${text}` : text);
}

/** Removes anything that looks like an Anthropic key, and the provider's credentials themselves (src/redact/). */
export function redact(text: string, env = process.env): string {
  return redactKeyShapes(Redactor.fromEnv(env, []).text(text));
}
