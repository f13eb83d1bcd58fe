// The recording tap (issue 24): the model client with every request body and every response
// as it arrived handed to a recorder. The raw SSE events are taken where turn.ts reads them,
// before stream.ts accumulates them: the very events a replay feeds back through the same
// reducer. Headers are never seen here (the SDK adds them below this layer), so the
// credential cannot reach a recording through the tap.
import type { ModelClient } from "./client.js";
import type { SseEvent } from "./stream.js";

export type TapEndpoint = "messages" | "count_tokens";

export interface ExchangeTap {
  /** Before the request is sent. Returns its number, which the response calls name. */
  request(endpoint: TapEndpoint, body: Record<string, unknown>): number;
  /** A stream that reached its end (whole or not: stream.ts decides that). */
  streamed(n: number, events: SseEvent[]): void;
  /** A non-streamed response's JSON body. */
  json(n: number, body: unknown): void;
  /** The attempt failed or was cancelled: what had arrived, and why. */
  failed(n: number, error: unknown, events: SseEvent[]): void;
}

/** The client with create() and countTokens() tapped; everything else (baseURL…) is the client's own. */
export function tapClient(client: ModelClient, tap: ExchangeTap): ModelClient {
  const messages = client.messages;
  const create = async (params: Record<string, unknown>, options?: unknown): Promise<unknown> => {
    const n = tap.request("messages", params);
    let response: unknown;
    try {
      response = await (messages.create as (p: unknown, o?: unknown) => Promise<unknown>).call(messages, params, options);
    } catch (err) {
      tap.failed(n, err, []);
      throw err;
    }
    if (params.stream !== true) {
      tap.json(n, response);
      return response;
    }
    return tapStream(response as AsyncIterable<SseEvent>, n, tap);
  };
  const countTokens = async (params: Record<string, unknown>, options?: unknown): Promise<unknown> => {
    const n = tap.request("count_tokens", params);
    try {
      const response = await (messages.countTokens as (p: unknown, o?: unknown) => Promise<unknown>).call(messages, params, options);
      tap.json(n, response);
      return response;
    } catch (err) {
      tap.failed(n, err, []);
      throw err;
    }
  };
  const tapped = new Proxy(messages, {
    get(target, prop) {
      if (prop === "create") return create;
      if (prop === "countTokens") return countTokens;
      const value = Reflect.get(target, prop, target) as unknown;
      return typeof value === "function" ? (value as (...a: unknown[]) => unknown).bind(target) : value;
    },
  });
  return new Proxy(client, { get: (target, prop) => (prop === "messages" ? tapped : Reflect.get(target, prop, target)) });
}

/** The stream, each event kept as it passes; the record is written once, when the stream ends or fails. */
function tapStream(stream: AsyncIterable<SseEvent>, n: number, tap: ExchangeTap): AsyncIterable<SseEvent> {
  return {
    [Symbol.asyncIterator]() {
      const it = stream[Symbol.asyncIterator]();
      const events: SseEvent[] = [];
      let settled = false;
      const settle = (write: () => void) => {
        if (settled) return;
        settled = true;
        write();
      };
      return {
        next: () =>
          it.next().then(
            (r) => {
              if (r.done) settle(() => tap.streamed(n, events));
              else events.push(r.value);
              return r;
            },
            (err: unknown) => {
              settle(() => tap.failed(n, err, events));
              throw err;
            },
          ),
        return: (value?: unknown) => {
          settle(() => tap.failed(n, new Error("the reader stopped before the stream ended"), events));
          return it.return ? it.return(value) : Promise.resolve({ done: true as const, value: undefined });
        },
      };
    },
  };
}
