import "../zod-mini.js";
import * as z from "zod/mini";
import { ERROR_CODES } from "../errors.js";
import { Usage } from "../conversation/usage.js";
import { EVENT_VERSION } from "./event-version.js";

/**
 * The event lines pod prints on stdout, one JSON object per line. These zod
 * schemas are the single source of truth: events are built through them and
 * `pod schema` prints their JSON Schema. Adding a field is fine; renaming or
 * removing one needs EVENT_VERSION bumped and a note in docs/events.md.
 */
export { EVENT_VERSION };

const count = () => z.int().check(z.nonnegative());

// Usage is the conversation's (src/conversation/usage.ts); re-exported here because the
// `usage` and `run_end` events embed it (the JSON Schema `pod schema` prints is unchanged).
export { Usage, ZERO_USAGE, addUsage } from "../conversation/usage.js";

export const RunResult = z.enum(["finished", "paused", "limit_reached", "error"]);
export type RunResult = z.infer<typeof RunResult>;

const Envelope = {
  v: z.literal(EVENT_VERSION),
  seq: count(),
  ts: z.iso.datetime(),
  /** null only on an `error` line printed before the pod's session could be known. */
  session_id: z.nullable(z.string()),
};

function event<T extends string, S extends Record<string, z.ZodMiniType>>(type: T, shape: S) {
  return z.object({ ...Envelope, type: z.literal(type), ...shape });
}

/** The schema of every event type. Built on first use: most commands never validate an event. */
function buildEventSchemas() {
  return {
  run_start: event("run_start", {
    /** This run's recording, runs/<run_id>/ (docs/replay.md); with mode replay, the run being replayed. */
    run_id: z.string(),
    pod: z.string(),
    mode: z.enum(["run", "resume", "replay"]),
    model: z.string(),
    input: z.optional(z.string()),
    /** Project instruction files loaded into the system prompt, outermost first, relative to the workspace (scope) root, e.g. "../AGENTS.md". */
    instructions: z.optional(z.array(z.string())),
    /** What pod refused or could not fully protect at start (an instruction file that is a FIFO or a link out of the workspace, credentials found in .git/config…), one line each. */
    warnings: z.optional(z.array(z.string())),
    /** Which OS sandbox Bash runs in; null when Bash is off. */
    sandbox: z.optional(z.nullable(z.enum(["bwrap", "seatbelt", "off"]))),
  }),
  turn_start: event("turn_start", { turn: z.int().check(z.positive()) }),
  text_delta: event("text_delta", { text: z.string() }),
  text_done: event("text_done", { text: z.string() }),
  /** A piece of the model's extended thinking ([pod] thinking); kept in the session, never part of the answer. */
  thinking_delta: event("thinking_delta", { text: z.string() }),
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
    turn: z.int().check(z.positive()),
    attempt: z.int().check(z.positive()),
    reason: z.string(),
    delay_ms: count(),
  }),
  /**
   * pod is waiting on the provider (a slow first byte, a quiet stream, or a retry's wait):
   * printed after POD_HEARTBEAT_MS (15 s) without any other line, so a reader of stdout
   * never sees a longer silence while the provider is slow.
   */
  waiting: event("waiting", {
    turn: z.int().check(z.positive()),
    waiting_for: z.enum(["response", "retry"]),
    waited_ms: count(),
  }),
  turn_end: event("turn_end", { turn: z.int().check(z.positive()), stop_reason: z.string() }),
  compaction: event("compaction", {
    tokens_before: count(),
    tokens_after: count(),
  }),
  /** One hook command ran (docs/extending.md): its verdict and how long it took. */
  hook: event("hook", {
    hook: z.enum(["pre_tool_use", "post_tool_use", "stop"]),
    /** The tool the call was for (pre/post_tool_use). */
    tool_name: z.optional(z.string()),
    matcher: z.string(),
    command: z.string(),
    /** null when the hook was killed (timeout, cancel) or could not start. */
    exit_code: z.nullable(z.int()),
    /** allow = go on; block = the call was refused / the agent sent back to work; error = the hook failed, pod went on. */
    decision: z.enum(["allow", "block", "error"]),
    duration_ms: count(),
    /** The block reason, or what went wrong. */
    message: z.optional(z.string()),
  }),
  /** The model stayed overloaded after retries; the rest of the run uses [provider] fallback_model. */
  model_fallback: event("model_fallback", { from: z.string(), to: z.string(), reason: z.string() }),
  /** Said when pod repaired state left behind by a process that died (SPEC "Runtime directory"). */
  state_repaired: event("state_repaired", { message: z.string(), previous_pid: z.nullable(z.int()) }),
  error: event("error", { code: z.enum(ERROR_CODES), message: z.string() }),
  run_end: event("run_end", {
    result: RunResult,
    /** Which limit ended the run, when result is limit_reached. */
    limit: z.optional(z.enum(["turns", "budget", "time"])),
    turns: count(),
    usage: Usage,
    /** Estimated cost of this run in USD (docs/compaction.md has the price table); null for an unpriced model. */
    cost_usd: z.optional(z.nullable(z.number().check(z.nonnegative()))),
    duration_ms: count(),
    /** The structured output (with --output-schema or --review), validated against that schema. */
    output: z.optional(z.unknown()),
    /** With result paused: the tool calls waiting for `pod resume --approve|--deny` ([] after a cancel). */
    pending: z.optional(z.array(z.object({ id: z.string(), name: z.string(), input: z.record(z.string(), z.unknown()) }))),
    /** Every tool call of this run the boundary or a person refused ([] when none): scope, deny, protection, writable, allowlist, sandbox, a hook, an approval. */
    denials: z.array(z.object({ id: z.string(), tool: z.string(), reason: z.string() })),
    /** Every file this run added, modified or deleted in the scope, by any tool; sorted by path (docs/changes.md). Absent without [scope]. */
    files_changed: z.optional(z.array(z.object({ path: z.string(), change: z.enum(["added", "modified", "deleted"]) }))),
    /** Present when pod's listing of the scope hit its limit: files_changed may then miss new files (docs/changes.md). */
    files_changed_truncated: z.optional(z.literal(true)),
  }),
} as const;
}

let built: ReturnType<typeof buildEventSchemas> | undefined;
export function eventSchemas(): ReturnType<typeof buildEventSchemas> {
  return (built ??= buildEventSchemas());
}
type Schemas = ReturnType<typeof buildEventSchemas>;

export type EventType = keyof Schemas;
export type EventOf<T extends EventType> = z.infer<Schemas[T]>;
/** The fields a producer supplies; the sink adds v, seq, ts, session_id and type. */
export type EventBody<T extends EventType> = Omit<EventOf<T>, keyof typeof Envelope | "type">;
export type PodEvent = { [T in EventType]: EventOf<T> }[EventType];

/** One schema for any event line (a union on `type`). */
export function podEventSchema() {
  const all = Object.values(eventSchemas()) as unknown as [Schemas[EventType], ...Schemas[EventType][]];
  return z.discriminatedUnion("type", all);
}
