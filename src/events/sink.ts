import { EVENT_VERSION, eventSchemas, type EventBody, type EventType, type PodEvent } from "./schema.js";

/** Where finished event objects go: the JSONL writer, the pretty renderer, or a test's array. */
export type EventWriter = (event: PodEvent) => void;

/**
 * Stamps events with the envelope (v, seq, ts, session_id) and hands them to a
 * writer. One sink per process, passed down explicitly; seq counts from 0.
 */
export class EventSink {
  private seq = 0;
  /** Checking every event against its zod schema costs time on hot text streams, so tests opt in. */
  private readonly validate = process.env.POD_VALIDATE_EVENTS === "1";

  constructor(
    private readonly write: EventWriter,
    public sessionId: string | null = null,
  ) {}

  emit<T extends EventType>(type: T, body: EventBody<T>): void {
    const event = {
      v: EVENT_VERSION,
      seq: this.seq++,
      ts: new Date().toISOString(),
      session_id: this.sessionId,
      type,
      ...body,
    } as unknown as PodEvent;
    if (this.validate) eventSchemas()[type].parse(event);
    this.write(event);
  }
}

/**
 * Writes one JSON object per line to stdout. Lines are batched within one tick of
 * the event loop (a streamed chunk carries dozens of deltas) and written together,
 * which keeps the relay's cost per event small; the batch is flushed before the
 * process exits. A reader that goes away (`pod run | head -1`) must not kill the
 * run before it saves state, so EPIPE just stops the output.
 */
export function jsonlWriter(stream: NodeJS.WriteStream = process.stdout): EventWriter {
  let closed = false;
  let pending: string[] = [];
  let scheduled = false;
  stream.on("error", (err: NodeJS.ErrnoException) => {
    if (err.code === "EPIPE") closed = true;
    else throw err;
  });
  const flush = () => {
    scheduled = false;
    if (pending.length === 0) return;
    const text = pending.join("");
    pending = [];
    if (!closed) stream.write(text);
  };
  process.on("exit", flush);
  return (event) => {
    pending.push(JSON.stringify(event) + "\n");
    if (event.type === "run_end" || event.type === "error") flush();
    else if (!scheduled) {
      scheduled = true;
      setImmediate(flush);
    }
  };
}
