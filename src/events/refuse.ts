import { asPodError, exitCodeFor } from "../errors.js";
import type { EventSink } from "./sink.js";

/** Prints the one `error` line of a refused invocation and gives its exit code. */
export function refuse(sink: EventSink, err: unknown): number {
  const e = asPodError(err);
  sink.emit("error", { code: e.code, message: e.full });
  return exitCodeFor(e.code);
}
