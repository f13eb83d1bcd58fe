import { EVENT_VERSION } from "./event-version.js";
import type { EventOf, PodEvent } from "./schema.js";
import type { EventWriter } from "./sink.js";

/**
 * `--format text` and `--format json`: for scripts that want the answer, not the
 * stream (docs/events.md, "--format text and json").
 *
 * - text: only the final answer on stdout — the structured output as JSON (with
 *   --output-schema or --review), else the text of the last turn that said something.
 * - json: one object once the invocation ends: run_end's fields, plus `session_id`,
 *   `text` (that final text) and `errors` (every `error` event, in order). A refused
 *   invocation (no run_end) still prints one object: `result: "error"` and its error.
 *
 * Errors reach people on stderr (errorsOnStderr in context.ts), never mixed into the answer.
 */
export interface AnswerCollector {
  sessionId: string | null;
  lastText: string;
  errors: { code: string; message: string }[];
  end: EventOf<"run_end"> | undefined;
}

function collector(): { state: AnswerCollector; take(e: PodEvent): void } {
  const state: AnswerCollector = { sessionId: null, lastText: "", errors: [], end: undefined };
  let turnText: string[] = [];
  return {
    state,
    take(e) {
      state.sessionId = e.session_id;
      if (e.type === "turn_start") turnText = [];
      else if (e.type === "text_done") {
        turnText.push(e.text);
        state.lastText = turnText.join("\n");
      } else if (e.type === "error") state.errors.push({ code: e.code, message: e.message });
      else if (e.type === "run_end") state.end = e;
    },
  };
}

/** The final answer as `-o` writes it: the structured output as JSON, else the last text. */
export function finalAnswer(state: AnswerCollector): string {
  if (state.end?.output !== undefined) return JSON.stringify(state.end.output, null, 2);
  return state.lastText;
}

export function resultObject(state: AnswerCollector): Record<string, unknown> {
  if (!state.end) return { v: EVENT_VERSION, session_id: state.sessionId, result: "error", text: "", errors: state.errors };
  const { v: _v, seq: _seq, ts: _ts, type: _type, session_id, ...fields } = state.end;
  return { v: EVENT_VERSION, session_id, ...fields, text: finalAnswer(state), errors: state.errors };
}

/** Prints at process exit, so a refusal (no run_end) is covered by the same path. */
export function answerWriter(kind: "text" | "json", stream: NodeJS.WriteStream = process.stdout): EventWriter {
  const c = collector();
  let printed = false;
  const print = () => {
    if (printed) return;
    printed = true;
    // Nothing happened to report (a command that prints no events, and succeeded).
    if (!c.state.end && c.state.errors.length === 0) return;
    const body = kind === "json" ? JSON.stringify(resultObject(c.state)) : finalAnswer(c.state);
    if (body !== "") {
      try {
        stream.write(body.endsWith("\n") ? body : body + "\n");
      } catch {
        // A reader that went away: nothing to tell it.
      }
    }
  };
  process.on("exit", print);
  stream.on("error", () => {});
  return {
    kind: "events",
    event(e) {
      c.take(e);
      if (e.type === "run_end") print();
    },
  };
}
