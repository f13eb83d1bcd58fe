// One model turn over the wire: the SDK request, the watchdog and heartbeats, and the
// relay of the event lines to the runtime, which prints them (src/runtime/emit.ts). What
// the stream means is decided by the pure step in stream.ts; this shell only feeds it the
// raw SSE events and says when the stream ended.
import type { MessageCreateParamsBase } from "@anthropic-ai/sdk/resources/messages";
import { PodError } from "../errors.js";
import type { EventBody } from "../events/schema.js";
import type { ModelClient } from "./client.js";
import { apiHost, StreamBrokenError, StreamIncompleteError, StreamStalledError } from "./errors.js";
import { networkPolicy } from "./retry.js";
import { accumulate, finish, INITIAL_STATE, type RelayedEvent, type SseEvent, type TurnResponse } from "./stream.js";
import { hostEnv } from "../env-config.js";

export type { TurnResponse } from "./stream.js";

/** What a turn hands on as it streams: each delta stream.ts implies, and a `waiting` line while the provider is slow. */
export type TurnRelay = (e: RelayedEvent | { type: "waiting"; body: EventBody<"waiting"> }) => void;

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

export function streamLimits(turn: number, env = hostEnv()): StreamLimits {
  const p = networkPolicy(env);
  return { firstEventTimeoutMs: p.requestTimeoutMs, idleTimeoutMs: p.idleTimeoutMs, heartbeatMs: p.heartbeatMs, turn };
}

/**
 * Streams one model response and relays its event lines as they arrive (stream.ts says
 * which). Returns the whole response; throws on provider errors, on a stream that ends
 * before message_stop (StreamIncompleteError), or on abort. No SDK retries here: the
 * caller retries, so that every wait is on stdout.
 */
export async function streamTurn(
  client: ModelClient,
  params: MessageCreateParamsBase,
  relay: TurnRelay,
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
      relay({ type: "waiting", body: { turn: limits.turn, waiting_for: "response", waited_ms: now - (events > 0 ? lastEventAt : startedAt) } });
    }
  }, tick);
  const both = AbortSignal.any([signal, watchdog.signal]);
  try {
    // The raw SSE events (stream: true), not the SDK's MessageStream: the message is
    // accumulated once, by stream.ts, never a second time beside it.
    const stream = await client.messages.create({ ...params, stream: true }, { signal: both, maxRetries: 0 });
    let state = INITIAL_STATE;
    for await (const ev of stream as AsyncIterable<SseEvent>) {
      if (beforeFirstEvent) {
        await beforeFirstEvent();
        beforeFirstEvent = undefined;
      }
      events++;
      lastEventAt = Date.now();
      const step = accumulate(state, ev);
      state = step.state;
      for (const e of step.events) {
        lines++;
        relay(e);
      }
    }
    if (beforeFirstEvent) await beforeFirstEvent();
    const finished = finish(state);
    if (finished.ok) return finished.response;
    // A stream error event (the SDK usually throws on it first) or an early end: not a response.
    const why = finished.why === "error" ? Object.assign(new Error(finished.message), { error: { type: "error", error: state.error } }) : new StreamIncompleteError(host, finished.message);
    throw events > 0 ? new StreamBrokenError(why) : why;
  } catch (err) {
    // pod's own failure (the gate's fsync), not the provider's: passed on as it is.
    if (err instanceof PodError) throw err;
    if (err instanceof StreamBrokenError) throw err;
    if (watchdog.signal.aborted && !signal.aborted) throw watchdog.signal.reason;
    // Once events have flowed the request cannot be replayed quietly: mark it so the run loop says so.
    if (events > 0 && !signal.aborted) throw new StreamBrokenError(err);
    throw err;
  } finally {
    clearInterval(timer);
  }
}
