// What a response's stop_reason means for the run (SPEC "Events"): go on, ask to continue,
// or end it with an error that says why. Pure: no I/O. Imported by run-loop.ts only.
import { PodError } from "../errors.js";

/** How a response's stop_reason decides what comes next (SPEC "Events"). */
export type StopKind = "end" | "max_tokens" | "pause_turn" | "refusal" | "unknown";

export function stopKind(stopReason: string | null): StopKind {
  switch (stopReason) {
    case "end_turn":
    case "stop_sequence":
    case "tool_use":
      return "end";
    case "max_tokens":
    case "pause_turn":
    case "refusal":
      return stopReason;
    default:
      // model_context_window_exceeded never gets here: it is asked again before the response is stored.
      return "unknown";
  }
}

export function refusedError(message: { content: readonly { type: string; text?: string }[] }): PodError {
  const said = message.content
    .flatMap((b) => (b.type === "text" && b.text ? [b.text] : []))
    .join(" ")
    .trim();
  return new PodError(
    "refused",
    `the model declined to continue (stop_reason refusal)${said ? `; it said: ${said.length > 300 ? `${said.slice(0, 300)}…` : said}` : ""}`,
    "nothing of the refused response was run; change the task or its inputs, then `pod run` again (`pod history` shows the exchange)",
  );
}

export function unknownStopError(stopReason: string | null): PodError {
  return new PodError(
    "provider_error",
    stopReason === null
      ? "the response ended without a stop_reason, so pod cannot tell whether the model finished"
      : `the response ended with stop_reason "${stopReason}", which this version of pod does not know, so it cannot tell whether the model finished`,
    "nothing of that response was run; it is in `pod history`. Upgrade pod, or report the stop reason",
  );
}

export function contextExceeded(why: string): PodError {
  return new PodError(
    "context_exceeded",
    `the conversation no longer fits in the model's context window (stop_reason model_context_window_exceeded); ${why}`,
    "start a fresh session (`pod run --new \"…\"`) with a narrower task, or lower [compaction] keep_recent_turns so compaction keeps fewer turns",
  );
}

/** What the model is told after text cut at max_tokens: go on where it stopped. */
export function continueNote(maxTokens: number): string {
  return `[pod: your last response was cut off at the output limit (max_tokens = ${maxTokens}). Continue exactly where it stopped, without repeating what you already wrote.]`;
}
