import { readFileSync } from "node:fs";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { z } from "zod";

/**
 * A scripted conversation for the fake Messages API: each request to
 * POST /v1/messages consumes the next turn. Fixtures in test/fixtures/*.json are this.
 */
const UsageSchema = z.object({
  input_tokens: z.number().int().nonnegative().default(10),
  output_tokens: z.number().int().nonnegative().default(5),
  cache_read_input_tokens: z.number().int().nonnegative().default(0),
  cache_creation_input_tokens: z.number().int().nonnegative().default(0),
});

const Block = z.discriminatedUnion("type", [
  z.object({ type: z.literal("text"), text: z.string() }),
  z.object({ type: z.literal("tool_use"), id: z.string(), name: z.string(), input: z.record(z.string(), z.unknown()) }),
  /** Extended thinking: streamed as thinking_delta pieces, then one signature_delta. */
  z.object({ type: z.literal("thinking"), thinking: z.string(), signature: z.string() }),
  /** Encrypted thinking: arrives whole in its content_block_start. */
  z.object({ type: z.literal("redacted_thinking"), data: z.string() }),
  /**
   * A tool call the response ends in the middle of, as the API streams one cut by max_tokens:
   * its content_block_start and `partial_json` in input_json_delta pieces, never a content_block_stop.
   */
  z.object({ type: z.literal("tool_use_cut"), id: z.string(), name: z.string(), partial_json: z.string() }),
]);

/** The stop reasons the Messages API documents; any other string (or null) is sent as it is, to test unknown ones. */
export const STOP_REASONS = ["end_turn", "tool_use", "max_tokens", "stop_sequence", "pause_turn", "refusal", "model_context_window_exceeded"] as const;

const Expect = z
  .object({
    model: z.string().optional(),
    last_user_text_includes: z.string().optional(),
    tool_result_for: z.string().optional(),
    has_tools: z.array(z.string()).optional(),
    system_includes: z.string().optional(),
  })
  .strict();

const Fault = z.discriminatedUnion("kind", [
  z.object({ kind: z.literal("http"), status: z.number().int(), retry_after_s: z.number().nonnegative().optional(), times: z.number().int().positive().default(1), message: z.string().optional() }),
  z.object({ kind: z.literal("sse_error"), after_events: z.number().int().nonnegative().default(0), times: z.number().int().positive().default(1) }),
  z.object({ kind: z.literal("drop"), after_events: z.number().int().nonnegative().default(0), times: z.number().int().positive().default(1) }),
  z.object({ kind: z.literal("stall"), after_events: z.number().int().nonnegative().default(0), times: z.number().int().positive().default(1) }),
  /** Accept the request and never answer: no status line, no headers, no body. */
  z.object({ kind: z.literal("hang"), times: z.number().int().positive().default(1) }),
  z.object({ kind: z.literal("malformed"), after_events: z.number().int().nonnegative().default(0), times: z.number().int().positive().default(1) }),
  /**
   * The stream ends cleanly (a proper end of the chunked body, as a proxy or load balancer
   * closing an idle stream does) before message_stop: after `after_events` events, by
   * default every event but message_stop.
   */
  z.object({ kind: z.literal("end_early"), after_events: z.number().int().nonnegative().optional(), times: z.number().int().positive().default(1) }),
]);

const Delivery = z
  .object({
    /** Bytes per TCP write: small values split SSE frames across chunks. */
    chunk_bytes: z.number().int().positive().default(50),
    delay_ms: z.number().nonnegative().default(0),
    /** A ping event after every N events (0 = none). */
    ping_every: z.number().int().nonnegative().default(3),
    /** Characters per text_delta / input_json_delta. */
    text_split: z.number().int().positive().default(8),
  })
  .strict();

export const TurnSchema = z
  .object({
    expect: Expect.optional(),
    response: z
      .object({
        content: z.array(Block),
        /** One of STOP_REASONS, or any other string (or null) to play a stop reason pod does not know. */
        stop_reason: z.string().nullable().default("end_turn"),
        usage: UsageSchema.default({ input_tokens: 10, output_tokens: 5, cache_read_input_tokens: 0, cache_creation_input_tokens: 0 }),
      })
      .strict(),
    delivery: Delivery.default({ chunk_bytes: 50, delay_ms: 0, ping_every: 3, text_split: 8 }),
    fault: Fault.optional(),
  })
  .strict();

export const ScriptSchema = z.object({ turns: z.array(TurnSchema) }).strict();

export type Script = z.input<typeof ScriptSchema>;
export type ParsedScript = z.output<typeof ScriptSchema>;
export type Turn = z.output<typeof TurnSchema>;
export type FaultSpec = z.output<typeof Fault>;

const FIXTURES = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "../fixtures");

export function parseScript(raw: unknown, source = "script"): ParsedScript {
  const parsed = ScriptSchema.safeParse(raw);
  if (!parsed.success) throw new Error(`${source}: ${parsed.error.issues.map((i) => `${i.path.join(".")}: ${i.message}`).join("; ")}`);
  return parsed.data;
}

/** Reads test/fixtures/<name>.json (or a path) and validates it. */
export function loadFixture(nameOrPath: string): Script {
  const file = nameOrPath.endsWith(".json") ? path.resolve(nameOrPath) : path.join(FIXTURES, `${nameOrPath}.json`);
  const raw = JSON.parse(readFileSync(file, "utf8")) as unknown;
  parseScript(raw, file);
  return raw as Script;
}
