// A recorded run as a report (`pod report`, docs/report.md): what people and dashboards want
// to know of a run, taken from its recording (src/runs/reader.ts) and nothing else, so it
// works after `pod import` on another machine, with no git and no workspace. Pure: a
// RecordedRun in, a Report out. `Report` is the zod schema of `pod report --format json`
// (the documented dashboard format; a field may be added, none renamed without `v` bumped).
import "../zod-mini.js";
import * as z from "zod/mini";
import type { RecordedRun, RecordedToolCall } from "../runs/reader.js";
import { builtInTool } from "../tools/registry.js";

export const REPORT_VERSION = 1;

const count = () => z.int().check(z.nonnegative());
const Change = z.enum(["added", "modified", "deleted"]);

export const ReportFile = z.object({
  path: z.string(),
  change: Change,
  /** Lines added and removed; null for a binary file, or one pod could not count (then `not_counted` says why). */
  added: z.nullable(count()),
  removed: z.nullable(count()),
  binary: z.boolean(),
  not_counted: z.optional(z.string()),
});
export type ReportFile = z.infer<typeof ReportFile>;

export const ToolOutcome = z.enum(["ok", "error", "denied", "not_run", "no_result"]);
export type ToolOutcome = z.infer<typeof ToolOutcome>;

export const ReportToolCall = z.object({
  turn: count(),
  id: z.string(),
  tool: z.string(),
  /** What the call was about, on one line: the path, the command, the pattern (cut at 120 characters). */
  summary: z.string(),
  /** ok; error (the tool failed, or a command exited non-zero); denied (run_end.denials); not_run (answered without running: cut, cancelled, superseded); no_result (the run ended before it). */
  outcome: ToolOutcome,
  /** A command's exit status when not 0 (`1`, `signal SIGKILL`), or an error's first line. */
  detail: z.optional(z.string()),
  duration_ms: z.nullable(count()),
});
export type ReportToolCall = z.infer<typeof ReportToolCall>;

export const Report = z.object({
  v: z.literal(REPORT_VERSION),
  run_id: z.string(),
  pod: z.string(),
  session_id: z.string(),
  mode: z.enum(["run", "resume"]),
  model: z.string(),
  pod_version: z.string(),
  started_at: z.string(),
  /** null: the run has no end (still running, or killed). */
  ended_at: z.nullable(z.string()),
  /** The prompt (mode run); null for a resume. */
  prompt: z.nullable(z.string()),
  /** Mode resume: the call that was waiting and what was decided. */
  resume: z.nullable(
    z.object({
      call: z.nullable(z.object({ id: z.string(), name: z.string(), summary: z.string() })),
      decision: z.nullable(z.enum(["approve", "deny"])),
      reason: z.nullable(z.string()),
    }),
  ),
  /** run_end.result; null when the run has no end. */
  result: z.nullable(z.enum(["finished", "paused", "limit_reached", "error"])),
  limit: z.nullable(z.enum(["turns", "budget", "time"])),
  error: z.nullable(z.object({ code: z.string(), message: z.string() })),
  /** The final answer of a finished run: its last text, and the structured output (--output-schema, --review) when there is one. */
  answer: z.nullable(z.object({ text: z.string(), output: z.optional(z.unknown()) })),
  /** Why there is no answer (paused, a limit, an error, no end), in a sentence; null when there is one. */
  no_answer: z.nullable(z.string()),
  /** The calls a paused run waits on. */
  pending: z.array(z.object({ id: z.string(), name: z.string(), summary: z.string() })),
  /** null: the run recorded no files_changed (no [scope], no end, or the scope could not be listed) — not the same as []. */
  files_changed: z.nullable(
    z.object({
      files: z.array(ReportFile),
      /** Totals of the lines counted. */
      added: count(),
      removed: count(),
      /** The listing hit its limit: new files may be missing (run_end.files_changed_truncated). */
      truncated: z.boolean(),
      /** Why no file's lines were counted, when none were (a recording from before pod counted them, too many changes). */
      not_counted: z.nullable(z.string()),
    }),
  ),
  tool_calls: z.array(ReportToolCall),
  denials: z.array(z.object({ id: z.string(), tool: z.string(), reason: z.string(), turn: z.nullable(count()) })),
  turns: count(),
  usage: z.object({ input_tokens: count(), output_tokens: count(), cache_read_input_tokens: count(), cache_creation_input_tokens: count() }),
  /** null: no end recorded, or no price known for the model. */
  cost_usd: z.nullable(z.number()),
  /** Wall time of the run (run_end.duration_ms); null when it has no end. */
  duration_ms: z.nullable(count()),
  /** The recording ended mid-line (killed while writing), and that line was left out. */
  torn: z.boolean(),
});
export type Report = z.infer<typeof Report>;

const SUMMARY_MAX = 120;

function oneLine(text: string, max: number): string {
  const line = text.replace(/\s+/g, " ").trim();
  const chars = Array.from(line);
  return chars.length > max ? `${chars.slice(0, max - 1).join("")}…` : line;
}

/** What a call is about, on one line (the pretty renderer's key argument, longer). */
export function callSummary(name: string, input: Record<string, unknown>): string {
  const pick = (k: string) => (typeof input[k] === "string" ? (input[k] as string) : undefined);
  if (builtInTool(name)?.searches) {
    const pattern = pick("pattern");
    const where = pick("path");
    if (pattern !== undefined) return oneLine(where ? `${pattern} in ${where}` : pattern, SUMMARY_MAX);
  }
  const main = pick("path") ?? pick("file_path") ?? pick("command") ?? pick("pattern") ?? pick("url") ?? pick("query");
  return oneLine(main ?? JSON.stringify(input), SUMMARY_MAX);
}

/** The exit status a Bash result ends with (`[exit code: N]`), as the pretty renderer reads it. */
function exitStatus(output: string): string | undefined {
  return /\[exit code: ([^\]]+)\]\s*$/.exec(output)?.[1];
}

function toolCall(turn: number, call: RecordedToolCall, denied: ReadonlySet<string>): ReportToolCall {
  const base = { turn, id: call.id, tool: call.name, summary: callSummary(call.name, call.input) };
  const r = call.result;
  if (!r) return { ...base, outcome: denied.has(call.id) ? "denied" : "no_result", duration_ms: null };
  const firstLine = oneLine(r.output.split("\n").find((l) => l.trim() !== "") ?? "", 100);
  if (r.denied || denied.has(call.id)) return { ...base, outcome: "denied", ...(firstLine ? { detail: firstLine } : {}), duration_ms: r.duration_ms };
  if (!r.ran) return { ...base, outcome: "not_run", ...(firstLine ? { detail: firstLine } : {}), duration_ms: r.duration_ms };
  const exit = exitStatus(r.output);
  if (r.is_error) return { ...base, outcome: "error", ...(firstLine ? { detail: firstLine } : {}), duration_ms: r.duration_ms };
  if (exit !== undefined && exit !== "0") return { ...base, outcome: "error", detail: `exit ${exit}`, duration_ms: r.duration_ms };
  return { ...base, outcome: "ok", duration_ms: r.duration_ms };
}

/** The text of a message's text blocks (read structurally: any recorded message shape). */
function textOf(message: { content: readonly unknown[] }): string {
  return message.content
    .filter((b): b is { type: "text"; text: string } => (b as { type?: unknown }).type === "text" && typeof (b as { text?: unknown }).text === "string")
    .map((b) => b.text)
    .join("\n\n");
}

function whyNoAnswer(r: Pick<Report, "result" | "limit" | "error" | "pending">): string {
  switch (r.result) {
    case null:
      return "the run has no end in its recording: it is still running, or it was killed";
    case "paused":
      return r.pending.length > 0
        ? `the run paused: ${r.pending.length === 1 ? "a call waits" : `${r.pending.length} calls wait`} for approval (${r.pending.map((p) => p.name).join(", ")}); \`pod resume --approve\` or \`--deny\` continues it`
        : "the run paused before it finished (cancelled, a signal, or a transient fault); `pod resume` continues it";
    case "limit_reached":
      return `the run reached its ${r.limit ?? ""} limit before the model finished`.replace("  ", " ");
    case "error":
      return r.error ? `the run ended with an error (${r.error.code})` : "the run ended with an error";
    default:
      return "the run finished without any text";
  }
}

/** The report of a recorded run. */
export function reportOf(run: RecordedRun): Report {
  const { meta } = run;
  const end = meta.end;
  const denials = end?.denials ?? [];
  const deniedIds = new Set(denials.map((d) => d.id));
  const turnOfCall = new Map<string, number>();
  const tool_calls: ReportToolCall[] = [];
  for (const t of run.turns) {
    for (const c of t.toolCalls) {
      turnOfCall.set(c.id, t.turn);
      tool_calls.push(toolCall(t.turn, c, deniedIds));
    }
  }
  // A resume answers the call that was waiting first: it ran (or was denied) before any turn of this run.
  const resumed = meta.resume?.pending;
  if (resumed) turnOfCall.set(resumed.id, meta.start.turn);
  if (resumed) {
    const r = run.toolResults.find((x) => x.id === resumed.id);
    if (r) tool_calls.unshift(toolCall(meta.start.turn, { id: resumed.id, name: resumed.name, input: resumed.input as Record<string, unknown>, result: r }, deniedIds));
  }

  const usage = end?.usage ?? run.turns.reduce(
    (u, t) => ({
      input_tokens: u.input_tokens + t.usage.input_tokens,
      output_tokens: u.output_tokens + t.usage.output_tokens,
      cache_read_input_tokens: u.cache_read_input_tokens + (t.usage.cache_read_input_tokens ?? 0),
      cache_creation_input_tokens: u.cache_creation_input_tokens + (t.usage.cache_creation_input_tokens ?? 0),
    }),
    { input_tokens: 0, output_tokens: 0, cache_read_input_tokens: 0, cache_creation_input_tokens: 0 },
  );

  const pending = (end?.pending ?? []).map((p) => ({ id: p.id, name: p.name, summary: callSummary(p.name, p.input) }));
  const result = end?.result ?? null;
  const limit = end?.limit ?? null;
  const error = meta.error ?? null;
  // As -o and the Action's output give it: the text of the last turn that said something.
  const text = [...run.turns].reverse().map((t) => textOf(t.message)).find((x) => x.trim() !== "") ?? "";
  const answer = result === "finished" ? { text, ...(end?.output !== undefined ? { output: end.output } : {}) } : null;
  const hasAnswer = answer !== null && (answer.text !== "" || answer.output !== undefined);

  return {
    v: REPORT_VERSION,
    run_id: meta.run_id,
    pod: meta.pod,
    session_id: meta.session_id,
    mode: meta.mode,
    model: meta.model,
    pod_version: meta.pod_version,
    started_at: meta.started_at,
    ended_at: meta.ended_at ?? null,
    prompt: meta.mode === "run" ? (meta.input ?? "") : null,
    resume:
      meta.mode === "resume"
        ? {
            call: resumed ? { id: resumed.id, name: resumed.name, summary: callSummary(resumed.name, resumed.input as Record<string, unknown>) } : null,
            decision: meta.resume?.approval?.kind ?? null,
            reason: meta.resume?.approval?.kind === "deny" ? meta.resume.approval.reason : null,
          }
        : null,
    result,
    limit,
    error,
    answer: hasAnswer ? answer : null,
    no_answer: hasAnswer ? null : whyNoAnswer({ result, limit, error, pending }),
    pending,
    files_changed: filesOf(run),
    tool_calls,
    denials: denials.map((d) => ({ id: d.id, tool: d.tool, reason: d.reason, turn: turnOfCall.get(d.id) ?? null })),
    turns: end?.turns ?? run.turns.length,
    usage,
    cost_usd: end ? (end.cost_usd ?? null) : null,
    duration_ms: end ? end.duration_ms : null,
    torn: run.torn,
  };
}

function filesOf(run: RecordedRun): Report["files_changed"] {
  const end = run.meta.end as (Record<string, unknown> & { files_changed?: unknown; files_changed_truncated?: unknown }) | undefined;
  const listed = Array.isArray(end?.files_changed) ? (end.files_changed as Array<{ path: string; change: ReportFile["change"] }>) : undefined;
  if (!listed) return null;
  const stat = run.meta.diffstat;
  const counted = new Map((stat?.files ?? []).map((f) => [f.path, f]));
  const uncounted = new Map((stat?.uncounted ?? []).map((u) => [u.path, u.reason]));
  const notCounted = !stat ? "this recording has no line counts (made before pod recorded them)" : (stat.skipped ?? null);
  let added = 0;
  let removed = 0;
  const files = listed.map((f): ReportFile => {
    const s = counted.get(f.path);
    if (s) {
      added += s.added ?? 0;
      removed += s.removed ?? 0;
      return { path: f.path, change: f.change, added: s.added, removed: s.removed, binary: s.binary };
    }
    const why = uncounted.get(f.path) ?? notCounted ?? "not counted";
    return { path: f.path, change: f.change, added: null, removed: null, binary: false, not_counted: why };
  });
  return { files, added, removed, truncated: end?.files_changed_truncated === true, not_counted: files.length > 0 && counted.size === 0 ? notCounted : null };
}
