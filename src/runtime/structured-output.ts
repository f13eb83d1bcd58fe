import path from "node:path";
import type { Tool as ApiTool } from "@anthropic-ai/sdk/resources/messages";
import type { Ajv, ErrorObject, ValidateFunction } from "ajv";
import type { Ajv2020 } from "ajv/dist/2020.js";
import { PodError } from "../errors.js";
import { readTrusted, type TrustedFile } from "../contract/read.js";
import type { Message, ToolUse } from "../conversation/messages.js";
import type { ToolResult } from "../tools/types.js";

/**
 * Structured output (`--output-schema FILE`) through a final-answer tool: the model
 * gets one more tool, `final_answer`, whose input_schema is the user's schema, and
 * ends the run by calling it. Why a tool rather than the API's JSON output mode:
 * it works on every model and provider pod supports, it lets the model use its
 * other tools first and answer last, and a rejected answer is an ordinary
 * `is_error` tool result the model can act on. pod validates every answer itself
 * (ajv), since the API does not guarantee that a tool input matches its schema.
 * An answer that does not validate is sent back with the reasons; after
 * MAX_RETRIES more invalid answers the run fails with `output_invalid`.
 */
export const FINAL_ANSWER_TOOL = "final_answer";
export const MAX_RETRIES = 2;

export interface OutputSchema {
  /** The schema file as given, for messages. */
  file: string;
  schema: Record<string, unknown>;
  validate: ValidateFunction;
  /** True when the schema is not an object schema and answers travel wrapped as {"value": …}. */
  wrapped: boolean;
  /** The file as read at start (bytes, identity, hash): pinned for the run, never read again. Absent for pod's own schema (--review). */
  source?: TrustedFile | undefined;
  /** Checks past the schema (--review: each finding's file and line exist), run on an answer the schema accepted: the problems, or undefined. */
  check?: ((value: unknown) => string | undefined) | undefined;
  /** The final_answer tool's description, when the default one is not enough (--review). */
  description?: string | undefined;
}

/**
 * Reads and compiles the schema: draft 2020-12 (the default) or draft-07, chosen by `$schema`.
 * Bad input is a usage error. The file is read once through a descriptor (a FIFO is refused,
 * never waited on) and compiled from those bytes. Its `pattern`s and `patternProperties`
 * run on a linear-time engine (RE2, src/runtime/ajv-entry.ts): a crafted answer cannot
 * make validation backtrack for hours on the main thread, where not even --timeout fires.
 */
export async function loadOutputSchema(file: string): Promise<OutputSchema> {
  const abs = path.resolve(file);
  const bad = (why: string, fix: string) => new PodError("invalid_input", `--output-schema ${file}: ${why}`, fix);
  const read = await readTrusted(abs, abs);
  if (!read.ok) {
    throw read.reason === "missing"
      ? bad(`cannot read ${abs} (ENOENT)`, "give the path of a JSON Schema file (relative to the current directory)")
      : bad(read.message, "give the path of a regular JSON Schema file");
  }
  const text = read.file.bytes.toString("utf8");
  let schema: unknown;
  try {
    schema = JSON.parse(text);
  } catch (err) {
    throw bad(`not JSON (${(err as Error).message})`, "the file must hold one JSON Schema object");
  }
  if (!schema || typeof schema !== "object" || Array.isArray(schema)) throw bad("not a JSON object", "the file must hold one JSON Schema object");
  return { ...(await compileOutputSchema(schema as Record<string, unknown>, file, bad)), source: read.file };
}

/**
 * Compiles a schema object: draft 2020-12 (the default) or draft-07, chosen by `$schema`.
 * ajv is loaded only here: a run without a schema does not pay for it at start-up.
 */
export async function compileOutputSchema(
  s: Record<string, unknown>,
  file: string,
  bad: (why: string, fix: string) => PodError = (why, fix) => new PodError("internal", `${file}: ${why}`, fix),
): Promise<OutputSchema> {
  const dialect = typeof s.$schema === "string" ? s.$schema : "";
  const entry = await import("./ajv-entry.js");
  const options = { allErrors: true, strict: false, code: { regExp: entry.linearRegExp } };
  let ajv: Ajv | Ajv2020;
  if (dialect === "" || dialect.includes("2020-12")) ajv = new entry.Ajv2020(options);
  else if (dialect.includes("draft-07")) ajv = new entry.Ajv(options);
  else throw bad(`$schema ${JSON.stringify(dialect)} is not supported`, 'use draft 2020-12 ("https://json-schema.org/draft/2020-12/schema") or draft-07 ("http://json-schema.org/draft-07/schema#")');
  let validate: ValidateFunction;
  try {
    validate = ajv.compile(s);
  } catch (err) {
    if (err instanceof entry.UnsupportedPattern) throw bad(err.message, "rewrite the pattern without lookahead, lookbehind or backreferences (RE2 syntax; docs/security.md)");
    throw bad(`not a valid JSON Schema: ${(err as Error).message}`, "fix the schema (ajv reports the problem above)");
  }
  return { file, schema: s, validate, wrapped: s.type !== "object" };
}

/** The final_answer tool as the API receives it. A non-object schema is wrapped, since tool inputs are objects. */
export function finalAnswerTool(o: OutputSchema): ApiTool {
  const { $schema: _dialect, $defs, definitions, ...rest } = o.schema;
  const inputSchema = o.wrapped
    ? { type: "object", properties: { value: rest }, required: ["value"], additionalProperties: false, ...($defs ? { $defs } : {}), ...(definitions ? { definitions } : {}) }
    : { ...rest, ...($defs ? { $defs } : {}), ...(definitions ? { definitions } : {}) };
  return {
    name: FINAL_ANSWER_TOOL,
    description:
      o.description ??
      "Give your final answer and end the run. Call this exactly once, when the work is done, with the answer as the input; " +
      `it must match this tool's input schema.${o.wrapped ? ' Put the answer in "value".' : ""} If the answer is rejected, correct it and call again. ` +
      "Do not also answer in plain text.",
    input_schema: inputSchema as ApiTool["input_schema"],
  };
}

/**
 * The API refuses a request whose messages hold tool_use/tool_result blocks but that
 * defines no tools. A pod without [scope] that once answered through final_answer
 * would hit that on its next run without --output-schema, so such a request keeps a
 * final_answer definition that says it is not available (a call is an unknown tool).
 */
export function toolsForHistory(tools: ApiTool[], history: readonly Message[]): ApiTool[] {
  if (tools.length > 0 || !history.some((m) => m.content.some((b) => b.type === "tool_use" || b.type === "tool_result"))) return tools;
  return [
    {
      name: FINAL_ANSWER_TOOL,
      description: "Not available in this run: it was offered in an earlier run of this session that asked for a structured answer. Do not call it; answer in text.",
      input_schema: { type: "object" },
    },
  ];
}

/** What the run loop does after a turn, in structured-output mode. */
export type OutputVerdict =
  | { kind: "accepted"; value: unknown }
  | { kind: "continue" }
  | { kind: "nudge"; text: string }
  | { kind: "failed"; error: PodError };

/** The per-run state of structured output: attempts so far and the accepted answer. */
export class OutputGate {
  readonly tool: ApiTool;
  private invalid = 0;
  private accepted: { value: unknown } | undefined;
  private lastProblem = "";

  constructor(private readonly o: OutputSchema) {
    this.tool = finalAnswerTool(o);
  }

  /** Answers a final_answer call: accepted, or an error result saying what is wrong. */
  answer(call: ToolUse): ToolResult {
    const input = call.input && typeof call.input === "object" && !Array.isArray(call.input) ? (call.input as Record<string, unknown>) : undefined;
    const value = this.o.wrapped ? input?.value : input;
    const problem = input === undefined ? "the input was not a JSON object" : this.check(value);
    if (problem === undefined) {
      this.accepted = { value };
      return { output: "Accepted. The run ends here.", isError: false, truncated: false };
    }
    return { output: this.reject(problem), isError: true, truncated: false };
  }

  /** After a completed turn (its tool calls answered): finish, go on, ask for the answer, or give up. */
  afterTurn(message: Message, hadToolCalls: boolean): OutputVerdict {
    if (this.accepted) return { kind: "accepted", value: this.accepted.value };
    if (!hadToolCalls) {
      // The model stopped without calling final_answer: a JSON answer in its text is accepted too.
      const text = message.content.flatMap((b) => (b.type === "text" ? [b.text] : [])).join("\n");
      const parsed = parseJsonText(text);
      const problem = parsed === undefined ? `you ended your turn without calling ${FINAL_ANSWER_TOOL}` : this.check(parsed.value);
      if (problem === undefined) return { kind: "accepted", value: parsed!.value };
      const why = this.reject(problem);
      if (this.exhausted()) return this.failure();
      return { kind: "nudge", text: `${why}\nCall the ${FINAL_ANSWER_TOOL} tool with your final answer now.` };
    }
    return this.exhausted() ? this.failure() : { kind: "continue" };
  }

  private check(value: unknown): string | undefined {
    if (this.o.validate(value)) return this.o.check?.(value);
    return describeErrors(this.o.validate.errors ?? []);
  }

  private reject(problem: string): string {
    this.invalid++;
    this.lastProblem = problem;
    const left = MAX_RETRIES + 1 - this.invalid;
    return `The final answer does not match the required schema: ${problem}. ${left > 0 ? `${left} attempt${left === 1 ? "" : "s"} left.` : "No attempts left."}`;
  }

  private exhausted(): boolean {
    return this.invalid > MAX_RETRIES;
  }

  private failure(): OutputVerdict {
    return {
      kind: "failed",
      error: new PodError(
        "output_invalid",
        `the model's final answer did not match ${this.o.file} after ${this.invalid} attempts (last problem: ${this.lastProblem})`,
        "check that the schema is satisfiable and the prompt asks for that answer; `pod history` shows each attempt",
      ),
    };
  }
}

/**
 * The text as JSON: whole, or inside one ```json fence. undefined when it is not JSON.
 * The fence is found with indexOf, not a regex: the text is the model's, and a lazy
 * pattern over it backtracks quadratically on a long run of newlines and spaces.
 */
function parseJsonText(text: string): { value: unknown } | undefined {
  for (const candidate of [text, fencedBlock(text)]) {
    if (candidate === undefined || candidate.trim() === "") continue;
    try {
      return { value: JSON.parse(candidate) };
    } catch {
      // not JSON; try the next form
    }
  }
  return undefined;
}

/** The body of the first ``` or ```json fence: from the line after it to the line holding the closing ```. */
function fencedBlock(text: string): string | undefined {
  for (let open = text.indexOf("```"); open !== -1; open = text.indexOf("```", open + 3)) {
    const nl = text.indexOf("\n", open + 3);
    if (nl === -1) return undefined;
    if (!/^(json)?[ \t\r]*$/.test(text.slice(open + 3, nl))) continue;
    const close = text.indexOf("```", nl + 1);
    if (close === -1) return undefined;
    const lineStart = text.lastIndexOf("\n", close);
    if (lineStart < nl || text.slice(lineStart + 1, close).trim() !== "") continue;
    return lineStart === nl ? "" : text.slice(nl + 1, lineStart);
  }
  return undefined;
}

function describeErrors(errors: readonly ErrorObject[]): string {
  const parts = errors.slice(0, 10).map((e) => {
    const where = e.instancePath === "" ? "the answer" : e.instancePath;
    const extra = e.keyword === "additionalProperties" ? ` (${JSON.stringify((e.params as { additionalProperty?: string }).additionalProperty)})` : "";
    return `${where} ${e.message ?? "is invalid"}${extra}`;
  });
  return parts.join("; ") + (errors.length > 10 ? `; and ${errors.length - 10} more` : "");
}
