import { z } from "zod";
import { ERROR_CODES } from "../errors.js";

/**
 * The event lines pod prints on stdout, one JSON object per line. These zod
 * schemas are the single source of truth: events are built through them and
 * `pod schema` prints their JSON Schema. Adding a field is fine; renaming or
 * removing one needs EVENT_VERSION bumped and a note in docs/events.md.
 */
export const EVENT_VERSION = 1;

export const Usage = z.object({
  input_tokens: z.number().int().nonnegative(),
  output_tokens: z.number().int().nonnegative(),
  cache_read_input_tokens: z.number().int().nonnegative(),
  cache_creation_input_tokens: z.number().int().nonnegative(),
});
export type Usage = z.infer<typeof Usage>;

export const ZERO_USAGE: Usage = {
  input_tokens: 0,
  output_tokens: 0,
  cache_read_input_tokens: 0,
  cache_creation_input_tokens: 0,
};

export function addUsage(a: Usage, b: Usage): Usage {
  return {
    input_tokens: a.input_tokens + b.input_tokens,
    output_tokens: a.output_tokens + b.output_tokens,
    cache_read_input_tokens: a.cache_read_input_tokens + b.cache_read_input_tokens,
    cache_creation_input_tokens: a.cache_creation_input_tokens + b.cache_creation_input_tokens,
  };
}

export const RunResult = z.enum(["finished", "paused", "limit_reached", "error"]);
export type RunResult = z.infer<typeof RunResult>;

const Envelope = {
  v: z.literal(EVENT_VERSION),
  seq: z.number().int().nonnegative(),
  ts: z.iso.datetime(),
  /** null only on an `error` line printed before the pod's session could be known. */
  session_id: z.string().nullable(),
};

function event<T extends string, S extends z.ZodRawShape>(type: T, shape: S) {
  return z.object({ ...Envelope, type: z.literal(type), ...shape });
}

export const EventSchemas = {
  run_start: event("run_start", {
    pod: z.string(),
    mode: z.enum(["run", "resume"]),
    model: z.string(),
    input: z.string().optional(),
  }),
  turn_start: event("turn_start", { turn: z.number().int().positive() }),
  text_delta: event("text_delta", { text: z.string() }),
  text_done: event("text_done", { text: z.string() }),
  tool_call_start: event("tool_call_start", { id: z.string(), name: z.string() }),
  tool_call_args_delta: event("tool_call_args_delta", { id: z.string(), json: z.string() }),
  tool_call_done: event("tool_call_done", {
    id: z.string(),
    name: z.string(),
    input: z.record(z.string(), z.unknown()),
  }),
  tool_result: event("tool_result", {
    id: z.string(),
    name: z.string(),
    is_error: z.boolean(),
    output: z.string(),
    truncated: z.boolean(),
  }),
  usage: event("usage", Usage.shape),
  /** A transient provider fault interrupted the turn; it is asked again. Deltas since its turn_start are void. */
  turn_retry: event("turn_retry", {
    turn: z.number().int().positive(),
    attempt: z.number().int().positive(),
    reason: z.string(),
    delay_ms: z.number().int().nonnegative(),
  }),
  turn_end: event("turn_end", { turn: z.number().int().positive(), stop_reason: z.string() }),
  compaction: event("compaction", {
    tokens_before: z.number().int().nonnegative(),
    tokens_after: z.number().int().nonnegative(),
  }),
  /** Said when pod repaired state left behind by a process that died (SPEC "Runtime directory"). */
  state_repaired: event("state_repaired", { message: z.string(), previous_pid: z.number().int().nullable() }),
  error: event("error", { code: z.enum(ERROR_CODES), message: z.string() }),
  run_end: event("run_end", {
    result: RunResult,
    turns: z.number().int().nonnegative(),
    usage: Usage,
    /** Estimated cost of this run in USD (docs/compaction.md has the price table); null for an unpriced model. */
    cost_usd: z.number().nonnegative().nullable().optional(),
    duration_ms: z.number().int().nonnegative(),
  }),
} as const;

export type EventType = keyof typeof EventSchemas;
export type EventOf<T extends EventType> = z.infer<(typeof EventSchemas)[T]>;
/** The fields a producer supplies; the sink adds v, seq, ts, session_id and type. */
export type EventBody<T extends EventType> = Omit<EventOf<T>, keyof typeof Envelope | "type">;

export const PodEvent = z.discriminatedUnion(
  "type",
  Object.values(EventSchemas) as unknown as [
    (typeof EventSchemas)[EventType],
    ...(typeof EventSchemas)[EventType][],
  ],
);
export type PodEvent = z.infer<typeof PodEvent>;

/** JSON Schema (draft 2020-12) of one event line, for `pod schema`. */
export function eventJsonSchema(): Record<string, unknown> {
  return {
    ...z.toJSONSchema(PodEvent, { target: "draft-2020-12" }),
    title: "pod event line",
    description: `One line of pod's stdout (protocol v${EVENT_VERSION}). See docs/events.md.`,
  };
}
