// `pod report --format markdown`: a Report (model.ts) as markdown that reads well rendered
// (GitHub's `$GITHUB_STEP_SUMMARY`, a PR comment) and raw (a terminal, a CI log). Pure.
// Every text from the model, a tool, a file or the manifest goes through md.ts; the words
// and numbers around it are pod's own. docs/report.md shows an example.
import { inertText } from "../events/inert.js";
import { code, cut, fenced } from "./md.js";
import type { Report, ReportToolCall } from "./model.js";

/** Past these the report says how many more there are (the json format has them all). */
export const LIMITS = { prompt: 20_000, answer: 60_000, files: 300, toolCalls: 200, denials: 100, errorMessage: 4_000 };

const ICON: Record<string, string> = { finished: "✅", paused: "⏸️", limit_reached: "⏱️", error: "❌" };
const n = (x: number) => x.toLocaleString("en-US");

/** 850 ms, 12.3 s, 4m 05s, 1h 02m. */
export function duration(ms: number): string {
  if (ms < 1000) return `${Math.round(ms)} ms`;
  if (ms < 60_000) return `${(ms / 1000).toFixed(1)} s`;
  const s = Math.round(ms / 1000);
  if (s < 3600) return `${Math.floor(s / 60)}m ${String(s % 60).padStart(2, "0")}s`;
  return `${Math.floor(s / 3600)}h ${String(Math.floor((s % 3600) / 60)).padStart(2, "0")}m`;
}

const cell = (text: string, max = 80) => code(text, { max, cell: true });
const row = (cells: string[]) => `| ${cells.join(" | ")} |`;
const more = (shown: number, all: number, what: string) => (all > shown ? [``, `… and ${n(all - shown)} more ${what} (\`pod report --format json\` lists them all).`] : []);

const OUTCOME: Record<ReportToolCall["outcome"], string> = { ok: "ok", error: "error", denied: "denied", not_run: "not run", no_result: "no result" };

export function reportMarkdown(r: Report): string {
  const out: string[] = [];
  const result = r.result ?? "no end";
  out.push(`### ${ICON[result] ?? "❔"} pod ${code(r.pod, { max: 64 })}: ${result.replace("_", " ")}${r.limit ? ` (${r.limit} limit)` : ""}`, "");

  const usage = r.usage;
  const facts: [string, string][] = [
    ["run", `${cell(r.run_id)} (${r.mode})`],
    ["session", cell(r.session_id)],
    ["model", cell(r.model)],
    ["turns", n(r.turns)],
    ["tokens", `${n(usage.input_tokens)} in · ${n(usage.output_tokens)} out · ${n(usage.cache_read_input_tokens)} cache read · ${n(usage.cache_creation_input_tokens)} cache write`],
    ["cost", r.cost_usd === null ? (r.result === null ? "— (no end recorded)" : "— (no price known for the model)") : `$${r.cost_usd.toFixed(4)}`],
    ["wall time", r.duration_ms === null ? "— (no end recorded)" : duration(r.duration_ms)],
    ["started", `${cell(r.started_at)}${r.ended_at ? ` · ended ${cell(r.ended_at)}` : ""}`],
  ];
  out.push("| | |", "| --- | --- |", ...facts.map(([k, v]) => row([k, v])), "");
  if (r.torn) out.push("> The recording ends in a torn line (the run was killed while writing it); the report shows what was recorded before it.", "");

  // The task.
  if (r.prompt !== null) {
    out.push("#### Prompt", "", fenced(cut(r.prompt, LIMITS.prompt, "\n… (cut)"), "text"), "");
  } else if (r.resume) {
    const call = r.resume.call ? `${cell(r.resume.call.name, 40)} ${cell(r.resume.call.summary)} (call ${code(r.resume.call.id)})` : "the stopped run";
    const decided = r.resume.decision === "approve" ? "approved" : r.resume.decision === "deny" ? "denied" : "continued";
    out.push("#### Resumed", "", `${decided[0]!.toUpperCase()}${decided.slice(1)}: ${call}${r.resume.reason !== null ? `, because ${code(r.resume.reason, { max: 300 })}` : ""}.`, "");
  }

  // The outcome.
  if (r.answer) {
    out.push("#### Answer", "");
    if (r.answer.output !== undefined) out.push(fenced(cut(JSON.stringify(r.answer.output, null, 2), LIMITS.answer, "\n… (cut)"), "json"), "");
    else out.push(fenced(cut(r.answer.text, LIMITS.answer, "\n… (cut)"), "text"), "");
  } else {
    out.push("#### No answer", "", noAnswer(r), "");
    if (r.error) out.push(fenced(cut(r.error.message, LIMITS.errorMessage, "\n… (cut)"), "text"), "");
  }

  // What changed.
  const fc = r.files_changed;
  if (fc === null) {
    out.push("#### Files changed", "", "Not recorded for this run (the pod has no `[scope]`, or the run has no end).", "");
  } else if (fc.files.length === 0) {
    out.push("#### Files changed", "", `None.${fc.truncated ? " (The listing hit its limit: new files may be missing.)" : ""}`, "");
  } else {
    const totals = fc.not_counted ? "" : `: +${n(fc.added)} −${n(fc.removed)}`;
    out.push(`#### Files changed (${n(fc.files.length)}${totals})`, "");
    if (fc.not_counted) out.push(`Lines not counted: ${code(fc.not_counted, { max: 300 })}.`, "");
    out.push(row(["file", "change", "+", "−"]), "| --- | --- | ---: | ---: |");
    for (const f of fc.files.slice(0, LIMITS.files)) {
      const counts = f.binary ? ["binary", ""] : f.added === null ? ["?", "?"] : [n(f.added), n(f.removed ?? 0)];
      out.push(row([cell(f.path, 160), f.change, ...counts]));
    }
    out.push(...more(LIMITS.files, fc.files.length, "files"));
    const uncounted = fc.files.filter((f) => f.not_counted && !fc.not_counted);
    if (uncounted.length) out.push("", `?: not counted — ${uncounted.slice(0, 5).map((f) => `${code(f.path, { max: 80 })} (${code(f.not_counted!, { max: 120 })})`).join("; ")}${uncounted.length > 5 ? "; …" : ""}.`);
    if (fc.truncated) out.push("", "The listing hit its limit: new files may be missing.");
    out.push("");
  }

  // What the model did.
  if (r.tool_calls.length === 0) out.push("#### Tool calls", "", "None.", "");
  else {
    const tally = (["ok", "error", "denied", "not_run", "no_result"] as const)
      .map((o) => [o, r.tool_calls.filter((c) => c.outcome === o).length] as const)
      .filter(([, k]) => k > 0)
      .map(([o, k]) => `${k} ${OUTCOME[o]}`)
      .join(", ");
    out.push(`#### Tool calls (${n(r.tool_calls.length)}: ${tally})`, "", row(["turn", "tool", "input", "outcome", "time"]), "| ---: | --- | --- | --- | ---: |");
    for (const c of r.tool_calls.slice(0, LIMITS.toolCalls)) {
      const outcome = c.detail ? `${OUTCOME[c.outcome]}: ${cell(c.detail, 60)}` : OUTCOME[c.outcome];
      out.push(row([String(c.turn), cell(c.tool, 40), cell(c.summary), outcome, c.duration_ms === null ? "—" : duration(c.duration_ms)]));
    }
    out.push(...more(LIMITS.toolCalls, r.tool_calls.length, "calls"), "");
  }

  if (r.denials.length === 0) out.push("#### Denials", "", "None.", "");
  else {
    out.push(`#### Denials (${n(r.denials.length)})`, "", row(["turn", "tool", "call", "reason"]), "| ---: | --- | --- | --- |");
    for (const d of r.denials.slice(0, LIMITS.denials)) out.push(row([d.turn === null ? "—" : String(d.turn), cell(d.tool, 40), cell(d.id, 40), cell(d.reason, 200)]));
    out.push(...more(LIMITS.denials, r.denials.length, "denials"), "");
  }

  out.push(`<sub>pod ${code(r.pod_version, { max: 40 })} · \`pod replay ${r.run_id}\` replays this run offline.</sub>`, "");
  // Once more over the whole: nothing of ours starts a line with a workflow command, and a field's own text was made inert already.
  return inertText(out.join("\n"));
}

/** Why the run has no answer, in pod's words around the model's (tool names are the model's). */
function noAnswer(r: Report): string {
  switch (r.result) {
    case null:
      return "The run has no end in its recording: it is still running, or it was killed (`pod resume` continues a killed run).";
    case "paused":
      if (r.pending.length === 0) return "The run paused before it finished (cancelled, a signal, or a transient fault); `pod resume` continues it.";
      return [
        `The run paused: ${r.pending.length === 1 ? "a call waits" : `${r.pending.length} calls wait`} for approval. \`pod resume --approve\` runs it, \`pod resume --deny "why"\` refuses it.`,
        "",
        ...r.pending.map((p) => `- ${code(p.name, { max: 40 })} ${code(p.summary)} (call ${code(p.id)})`),
      ].join("\n");
    case "limit_reached":
      return `The run reached its ${r.limit ?? ""} limit before the model finished; ${r.limit === "time" ? "`pod resume` continues it" : "a new `pod run` continues the session"}.`.replace("  ", " ");
    case "error":
      return r.error ? `The run ended with an error: ${code(r.error.code, { max: 60 })}.` : "The run ended with an error.";
    default:
      return "The run finished without any text.";
  }
}
