// The recording of one run, on disk (docs/replay.md, "The recording"):
//
//   runs/<run_id>/run.json       what the run was: written at its start, rewritten (with `end`) at its end
//   runs/<run_id>/history.jsonl  the history the run started from, one message per line
//   runs/<run_id>/records.jsonl  append-only: each request pod sent, each response as received, each tool result
//
// Types and schemas only, no I/O. May import: src/store/ (ids, messages, status), src/events/schema.ts.
import { randomBytes } from "node:crypto";
import path from "node:path";
import "../zod-mini.js";
import * as z from "zod/mini";
import { PendingCall } from "../store/status.js";

export const RUN_FILE = "run.json";
export const HISTORY_FILE = "history.jsonl";
export const RECORDS_FILE = "records.jsonl";
/** The version of this format; a reader refuses a newer one by name rather than misread it. */
export const RECORDING_VERSION = 1;

/** `20260101T000000Z-a1b2c3`, like a session id: sortable by time, safe as a file name. */
export const RUN_ID = /^\d{8}T\d{6}Z-[0-9a-f]{6}$/;

export function newRunId(now = new Date()): string {
  const stamp = now.toISOString().replace(/[-:]/g, "").replace(/\.\d+Z$/, "Z");
  return `${stamp}-${randomBytes(3).toString("hex")}`;
}

export function isRunId(id: string): boolean {
  return RUN_ID.test(id);
}

export function runsDir(podDir: string): string {
  return path.join(podDir, "runs");
}

/** A run's directory. The id comes from the command line: anything that is not a run id is refused by the caller first. */
export function runDir(podDir: string, runId: string): string {
  return path.join(runsDir(podDir), runId);
}

const count = () => z.int().check(z.nonnegative());
const Usage = z.object({ input_tokens: count(), output_tokens: count(), cache_read_input_tokens: count(), cache_creation_input_tokens: count() });

/** What `pod resume --approve|--deny` decided (run-loop.ts's Approval). */
const Approval = z.union([z.object({ kind: z.literal("approve") }), z.object({ kind: z.literal("deny"), reason: z.string() })]);

/**
 * The facts of the machine and the moment that the built-in system prompt names (src/prompt/):
 * a replay on another machine, another day, builds the prompt with these, so only a change
 * of what the operator controls (manifest, instruction files, pod's own prompt) diverges.
 */
export const Environment = z.object({
  workspace: z.string(),
  os: z.string(),
  date: z.string(),
  git: z.string(),
  /** The runtime directory as the prompt names it (relative to the workspace when inside it). */
  runtime_dir: z.string(),
});
export type Environment = z.infer<typeof Environment>;

/** The run_end body, as printed (docs/events.md); later fields (files_changed…) are kept as they are. */
export const RunEnd = z.looseObject({
  result: z.enum(["finished", "paused", "limit_reached", "error"]),
  limit: z.optional(z.enum(["turns", "budget", "time"])),
  turns: count(),
  usage: Usage,
  cost_usd: z.optional(z.nullable(z.number())),
  duration_ms: count(),
  output: z.optional(z.unknown()),
  pending: z.optional(z.array(z.object({ id: z.string(), name: z.string(), input: z.record(z.string(), z.unknown()) }))),
  denials: z.array(z.object({ id: z.string(), tool: z.string(), reason: z.string() })),
});
export type RunEnd = z.infer<typeof RunEnd>;

export const RunMeta = z.object({
  v: z.int(),
  run_id: z.string().check(z.regex(RUN_ID, "not a run id")),
  pod: z.string(),
  session_id: z.string(),
  mode: z.enum(["run", "resume"]),
  started_at: z.iso.datetime(),
  /** The pod version that recorded the run. */
  pod_version: z.string(),
  model: z.string(),
  /** The prompt (mode run). */
  input: z.optional(z.string()),
  /** Mode resume: the call that was waiting and what was decided about it. */
  resume: z.optional(z.object({ pending: z.nullable(PendingCall), approval: z.optional(Approval) })),
  /**
   * Where in the session the run began: its last turn number, how many messages the
   * session file held, where its last compaction's kept part starts, and the sha256 of
   * history.jsonl (the history the model saw then, which the recording keeps itself).
   */
  start: z.object({ turn: count(), stored_messages: count(), keep_from: count(), history_sha256: z.string() }),
  /** The turn and budget limits the run had, so a replay stops where it stopped. */
  limits: z.object({ max_turns: z.int().check(z.positive()), max_cost_usd: z.optional(z.number()) }),
  /** --review: pod's own findings schema (rebuilt by a replay, with its checks). */
  review: z.optional(z.boolean()),
  /** With --output-schema: the schema as it was read at start. */
  output_schema: z.optional(z.object({ file: z.string(), schema: z.record(z.string(), z.unknown()) })),
  /** Absent when the manifest replaces the built-in system prompt (the prompt then names none of them). */
  environment: z.optional(Environment),
  ended_at: z.optional(z.iso.datetime()),
  /** The run_end body; absent while the run goes on, and after a crash. */
  end: z.optional(RunEnd),
  /**
   * Written with `end` (for `pod report`, which then needs no git and no workspace: it works
   * after `pod import` on another machine): lines added and removed per changed file, from
   * the same before/after comparison as files_changed and --diff (src/runtime/diffstat.ts).
   */
  diffstat: z.optional(
    z.object({
      files: z.array(z.object({ path: z.string(), change: z.enum(["added", "modified", "deleted"]), added: z.nullable(count()), removed: z.nullable(count()), binary: z.boolean() })),
      /** Files in files_changed that could not be counted, and why (content before the run not kept…). */
      uncounted: z.array(z.object({ path: z.string(), reason: z.string() })),
      /** Set when nothing was counted: why (too many or too large changes, a failed snapshot). */
      skipped: z.optional(z.string()),
    }),
  ),
  /** The error the run ended with (the last `error` line before run_end), when it ended with one. */
  error: z.optional(z.object({ code: z.string(), message: z.string() })),
});
export type RunMeta = z.infer<typeof RunMeta>;

/** Which API call a request record is: a turn or a summary (`messages`), or compaction's token count. */
export type Endpoint = "messages" | "count_tokens";

/**
 * One line of records.jsonl. `n` numbers the requests of the run, every attempt its own
 * (a retried turn is two requests with the same body). A request body is stored as what
 * changed since the previous request to the same endpoint (request-delta.ts).
 */
export const RequestRecord = z.object({
  kind: z.literal("request"),
  n: z.int().check(z.positive()),
  endpoint: z.enum(["messages", "count_tokens"]),
  /** The top-level keys that changed (all of them in the first request), messages excluded. */
  body: z.record(z.string(), z.unknown()),
  /** Top-level keys the previous request had and this one has not. */
  unset: z.optional(z.array(z.string())),
  /** How many leading messages are the previous request's, unchanged. */
  messages_kept: count(),
  /** The messages after those. */
  messages: z.array(z.unknown()),
});
/** A streamed response that reached its end: every SSE event's data, in order (pings included). */
export const StreamRecord = z.object({ kind: z.literal("response"), n: z.int(), events: z.array(z.looseObject({ type: z.string() })) });
/** A non-streamed response: its JSON body (compaction's summary, a token count). */
export const JsonRecord = z.object({ kind: z.literal("response_json"), n: z.int(), body: z.unknown() });
/** An attempt that did not end in a response: the events that arrived before it failed or was cancelled, and why. */
export const FailedRecord = z.object({ kind: z.literal("failed"), n: z.int(), error: z.string(), events: z.array(z.looseObject({ type: z.string() })) });
/** A tool call's result, as the model got it (the whole output, not the event's capped copy). */
export const ToolRecord = z.object({
  kind: z.literal("tool_result"),
  turn: z.int(),
  id: z.string(),
  name: z.string(),
  is_error: z.boolean(),
  output: z.string(),
  truncated: z.boolean(),
  /** The boundary or a person refused it (run_end.denials). */
  denied: z.optional(z.boolean()),
  /** false: answered without running (cut, cancelled, denied by a person, superseded). */
  ran: z.boolean(),
  duration_ms: count(),
});
export type ToolRecord = z.infer<typeof ToolRecord>;

export const RecordLine = z.discriminatedUnion("kind", [RequestRecord, StreamRecord, JsonRecord, FailedRecord, ToolRecord]);
export type RecordLine = z.infer<typeof RecordLine>;
export type RequestRecord = z.infer<typeof RequestRecord>;
