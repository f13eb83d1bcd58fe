import { Redactor } from "../redact/redactor.js";
import { EVENT_VERSION, eventSchemas, type EventBody, type EventType, type PodEvent } from "./schema.js";
import { podEnv } from "../env-config.js";

/**
 * Where events go. The JSONL writer takes each event as its finished JSON text, which
 * the sink writes without building an event object (the hot path of a text stream is
 * thousands of deltas a second); the pretty renderer takes event objects.
 */
export type EventWriter = { kind: "lines"; line(json: string, type: EventType): void } | { kind: "events"; event(event: PodEvent): void };

/**
 * Stamps events with the envelope (v, seq, ts, session_id) and hands them to a
 * writer. One sink per process, passed down explicitly; seq counts from 0. Every body
 * goes through the run's Redactor first (src/redact/): no secret reaches stdout, whatever
 * carried it. The envelope is pod's own and is not redacted.
 */
export class EventSink {
  private seq = 0;
  private clockMs = -1;
  private clockIso = "";
  /** Checking every event against its zod schema costs time on hot text streams, so tests opt in. */
  private readonly validate = podEnv().validateEvents;

  /** session_id as JSON text, kept with the id: stringifying it per event was ~2% of a text stream. */
  private sessionIdJson = "null";
  private id: string | null = null;

  constructor(
    private readonly out: EventWriter,
    sessionId: string | null = null,
    /** The run's Redactor; the other boundaries (session, requests, hooks, -o) take it from here. */
    readonly redactor: Redactor = Redactor.none(),
  ) {
    this.sessionId = sessionId;
  }

  get sessionId(): string | null {
    return this.id;
  }

  set sessionId(id: string | null) {
    this.id = id;
    this.sessionIdJson = JSON.stringify(id);
  }

  emit<T extends EventType>(type: T, body: EventBody<T>): void {
    if (this.redactor.active) body = this.redactor.value(body);
    const seq = this.seq++;
    const ts = this.now();
    if (this.out.kind === "lines") {
      const json = eventJson(seq, ts, this.sessionIdJson, type, body);
      // Tests validate the very text that is printed.
      if (this.validate) eventSchemas()[type].parse(JSON.parse(json));
      this.out.line(json, type);
      return;
    }
    const event = { v: EVENT_VERSION, seq, ts, session_id: this.id, type, ...body } as unknown as PodEvent;
    if (this.validate) eventSchemas()[type].parse(event);
    this.out.event(event);
  }

  /** The ISO time, formatted once per millisecond: a text stream emits dozens of events per ms. */
  private now(): string {
    const ms = Date.now();
    if (ms !== this.clockMs) {
      this.clockMs = ms;
      this.clockIso = new Date(ms).toISOString();
    }
    return this.clockIso;
  }
}

/**
 * The event as one line of JSON: the same text as JSON.stringify of the event object
 * (envelope keys first, then the body's, in order), without building that object.
 */
export function eventJson(seq: number, ts: string, sessionIdJson: string, type: EventType, body: object): string {
  const head = `{"v":${EVENT_VERSION},"seq":${seq},"ts":"${ts}","session_id":${sessionIdJson},"type":"${type}"`;
  const rest = JSON.stringify(body);
  return rest.length === 2 ? `${head}}` : `${head},${rest.slice(1)}`;
}
