// The replay seam (issue 24): a ModelClient whose answers come from a recording. A turn's
// request gets the recorded SSE events, yielded one by one, so turn.ts reads them exactly
// as it reads the wire and stream.ts accumulates them into the same message and the same
// event lines. No key, no network: nothing here opens a connection.
import type { ModelClient } from "./client.js";
import type { SseEvent } from "./stream.js";
import type { TapEndpoint } from "./tap.js";

/** The recorded answer to a request, or undefined when the recording has none (it ends here). */
export type RecordedAnswer = { events: SseEvent[] } | { body: unknown } | undefined;

export interface RecordedAnswers {
  /**
   * The answer to the next request to `endpoint`, given the body pod would send now.
   * Throws (a PodError `diverged`) when that body differs from the recorded one.
   */
  next(endpoint: TapEndpoint, body: Record<string, unknown>): RecordedAnswer;
}

/** Stands in for the host in messages (apiHost): a replay talks to no host. */
export const REPLAY_BASE_URL = "http://recording.invalid";

/**
 * `onEnd` is called when a turn's request has no recorded answer (the recorded run was
 * cancelled, timed out or killed there): the caller stops the run as a cancel would, and
 * the request fails as an aborted one does.
 */
export function replayClient(answers: RecordedAnswers, onEnd: () => void): ModelClient {
  const create = async (params: Record<string, unknown>): Promise<unknown> => {
    const answer = answers.next("messages", params);
    if (answer === undefined) {
      if (params.stream === true) onEnd();
      throw Object.assign(new Error("the recording ends before this request was answered"), { name: params.stream === true ? "AbortError" : "Error" });
    }
    if ("body" in answer) return answer.body;
    return stream(answer.events);
  };
  const countTokens = async (params: Record<string, unknown>): Promise<unknown> => {
    const answer = answers.next("count_tokens", params);
    if (answer === undefined || !("body" in answer)) throw new Error("the recording has no token count for this request");
    return answer.body;
  };
  return { baseURL: REPLAY_BASE_URL, messages: { create, countTokens } } as unknown as ModelClient;
}

async function* stream(events: readonly SseEvent[]): AsyncGenerator<SseEvent> {
  for (const e of events) yield e;
}
