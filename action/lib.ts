/**
 * What the GitHub Action needs from pod itself, bundled by scripts/build.mjs into
 * action/dist/lib.cjs (not part of the npm package: the Action's install step copies it
 * next to the pod it installs, so the two always come from the same checkout).
 *
 * - the job log: pod's own pretty renderer (src/events/pretty.ts) fed with the JSONL
 *   events, every line then made inert for the GitHub runner (`inertLogLine`);
 * - the run's outcome: pod's own `--format json` result (src/events/answer.ts);
 * - the step summary: markdown written from that outcome (`summaryMarkdown`) — the hook
 *   that `pod report --format markdown` replaces once it exists;
 * - the sandbox preflight: pod's own manifest discovery and sandbox probe, so the Action
 *   can fail before the run when Bash is on and no sandbox can start.
 *
 * Imports only src/ modules that are pure or read the file system; never the run loop.
 * Run as a script (`node lib.cjs preflight '{"cwd":…}'`) it prints the preflight as JSON:
 * the sandbox probe is cached per process, so a re-check after installing bubblewrap
 * needs a fresh one.
 */
import { answerWriter } from "../src/events/answer.js";
import { inertText, inertValue, MARK } from "../src/events/inert.js";
import { prettyWriter } from "../src/events/pretty.js";
import type { EventOf, PodEvent } from "../src/events/schema.js";
import { findAndLoadManifest } from "../src/manifest-discovery.js";
import { sandboxForRun } from "../src/sandbox/detect.js";
import { PodError } from "../src/errors.js";

export { inertText, inertValue };

/**
 * inertText, plus what the GitHub runner (actions/runner, ActionCommand.cs) accepts
 * beyond it: a `::command::` after ANY leading Unicode white space (.NET `TrimStart()`,
 * e.g. U+00A0, U+2003), and a legacy `##[command]` ANYWHERE in a line (`IndexOf("##[")`).
 * Applied to whole lines, after colouring (escape sequences are pod's own by then).
 */
export function inertLogLine(line: string): string {
  return line
    .replace(/^([\s\u0085]*)::/u, (_m, ws: string) => `${ws}:${MARK}:`)
    .replace(/##\[/g, `#${MARK}#[`);
}

/** Model- or tool-derived text for one log line: inertText, then the runner's extra rules, on one line. */
export function inertLogText(text: string): string {
  return inertText(text)
    .split("\n")
    .map((l) => inertLogLine(l))
    .join("\n");
}

/** Collects output written in pieces and hands it on in whole lines (the runner reads lines). */
class LineBuffer {
  private partial = "";
  constructor(private readonly emit: (line: string) => void) {}
  push(text: string): void {
    const lines = (this.partial + text).split("\n");
    this.partial = lines.pop() ?? "";
    for (const l of lines) this.emit(l);
  }
  end(): void {
    if (this.partial !== "") this.emit(this.partial);
    this.partial = "";
  }
}

export interface LogRenderer {
  event(e: PodEvent): void;
  /** Any text still held back (an unfinished line), as a last line. */
  end(): void;
}

/**
 * pod's pretty output for the job log: `write` gets whole lines (newline included), each
 * inert. Colour unless NO_COLOR (the Actions log renders ANSI colours).
 */
export function createLogRenderer(opts: { write: (line: string) => void; color?: boolean; resumeCommand?: string }): LogRenderer {
  const lines = new LineBuffer((l) => opts.write(`${inertLogLine(l)}\n`));
  const stream = {
    isTTY: opts.color !== false && !process.env.NO_COLOR,
    write(s: string) {
      lines.push(s);
      return true;
    },
    on() {
      return stream;
    },
  };
  // No spinner: it draws only on a terminal's stderr, and a log is not one.
  const spinner = { start() {}, stop() {} };
  const writer = prettyWriter(stream as unknown as NodeJS.WriteStream, spinner as never, { resumeCommand: opts.resumeCommand ?? "pod resume" });
  return {
    event(e) {
      if (writer.kind === "events") writer.event(e);
    },
    end() {
      lines.end();
    },
  };
}

export type Pending = { id: string; name: string; input: Record<string, unknown> };
export type Denial = { id: string; tool: string; reason: string };

/** How the run ended, as the Action reports it: pod's `--format json` object plus what run_start said. */
export interface RunOutcome {
  result: "finished" | "paused" | "limit_reached" | "error" | "";
  session_id: string | null;
  /** The final answer as `-o`/`--format text` give it (the structured output as JSON, else the last text). */
  text: string;
  output?: unknown;
  limit?: string;
  turns?: number;
  usage?: EventOf<"run_end">["usage"];
  cost_usd?: number | null;
  duration_ms?: number;
  pending: Pending[];
  denials: Denial[];
  files_changed?: { path: string; change: string }[];
  errors: { code: string; message: string }[];
  start?: { run_id: string; pod: string; mode: string; model: string; input?: string; sandbox?: string | null; warnings?: string[] };
}

export interface Collector {
  event(e: PodEvent): void;
  outcome(): RunOutcome;
}

/** Feeds pod's own json answer writer (src/events/answer.ts) and keeps run_start. */
export function createCollector(): Collector {
  let json = "";
  const capture = {
    write(s: string) {
      json += s;
      return true;
    },
    on() {
      return capture;
    },
  };
  const writer = answerWriter("json", capture as unknown as NodeJS.WriteStream);
  let start: RunOutcome["start"];
  let sessionId: string | null = null;
  const errors: RunOutcome["errors"] = [];
  return {
    event(e) {
      if (writer.kind === "events") writer.event(e);
      if (e.session_id) sessionId = e.session_id;
      if (e.type === "run_start") start = { run_id: e.run_id, pod: e.pod, mode: e.mode, model: e.model, input: e.input, sandbox: e.sandbox, warnings: e.warnings };
      if (e.type === "error") errors.push({ code: e.code, message: e.message });
    },
    outcome() {
      // No run_end (pod refused before it owned the pod): what the errors say.
      if (!json.trim()) return { result: errors.length ? "error" : "", session_id: sessionId, text: "", pending: [], denials: [], errors, start };
      const o = JSON.parse(json) as Record<string, any>;
      return {
        result: o.result,
        session_id: o.session_id ?? sessionId,
        text: typeof o.text === "string" ? o.text : "",
        output: o.output,
        limit: o.limit,
        turns: o.turns,
        usage: o.usage,
        cost_usd: o.cost_usd,
        duration_ms: o.duration_ms,
        pending: Array.isArray(o.pending) ? o.pending : [],
        denials: Array.isArray(o.denials) ? o.denials : [],
        files_changed: Array.isArray(o.files_changed) ? o.files_changed : undefined,
        errors: Array.isArray(o.errors) ? o.errors : errors,
        start,
      };
    },
  };
}

// ---------------------------------------------------------------------------------------
// The step summary (markdown). Everything from the model, a tool or a file goes into code
// spans or fenced blocks whose fence is longer than any backtick run inside, so it renders
// as text: no links, images, HTML or headings of its own.

/** A fenced code block that `text` cannot close. */
export function fenced(text: string, lang = ""): string {
  const clean = inertText(text);
  const longest = Math.max(0, ...[...clean.matchAll(/`+/g)].map((m) => m[0].length));
  const fence = "`".repeat(Math.max(3, longest + 1));
  return `${fence}${lang}\n${clean.endsWith("\n") ? clean : `${clean}\n`}${fence}`;
}

/** An inline code span that `text` cannot close, on one line. */
export function codeSpan(text: string, max = 200): string {
  let clean = inertText(text).replace(/\s+/g, " ").trim();
  if (clean.length > max) clean = `${clean.slice(0, max - 1)}…`;
  if (clean === "") return "``";
  const longest = Math.max(0, ...[...clean.matchAll(/`+/g)].map((m) => m[0].length));
  const tick = "`".repeat(longest + 1);
  const pad = clean.startsWith("`") || clean.endsWith("`") ? " " : "";
  // A `|` would end a table cell even inside a code span; summaries use no tables for such text, but lists may be pasted into one.
  return `${tick}${pad}${clean.replace(/\|/g, "\\|")}${pad}${tick}`;
}

/** Lines of a text; a final newline ends the last line, it does not start another. */
const splitLines = (text: string) => (text.endsWith("\n") ? text.slice(0, -1) : text).split("\n");

function firstLines(text: string, max: number): { shown: string; more: number } {
  const lines = splitLines(text);
  return { shown: lines.slice(0, max).join("\n"), more: Math.max(0, lines.length - max) };
}

/** The change a waiting call would make, for the person deciding. */
export function pendingMarkdown(p: Pending, maxLines = 40): string {
  const str = (k: string) => (typeof p.input[k] === "string" ? (p.input[k] as string) : undefined);
  const target = str("path") ?? str("file_path");
  const head = `- **${codeSpan(p.name, 60).slice(0)}**${target ? ` ${codeSpan(target)}` : ""} (call ${codeSpan(p.id, 80)})`;
  const more = (n: number) => (n ? `\n  … ${n} more line${n === 1 ? "" : "s"} (the events file has all of it)` : "");
  const indent = (block: string) => block.replace(/^/gm, "  ");
  if (p.name === "Edit" && str("old_string") !== undefined) {
    const old = firstLines(str("old_string")!, maxLines);
    const neu = firstLines(str("new_string") ?? "", maxLines);
    const diff = [...old.shown.split("\n").map((l) => `- ${l}`), ...neu.shown.split("\n").map((l) => `+ ${l}`)].join("\n");
    return `${head}: replace\n\n${indent(fenced(diff, "diff"))}${more(old.more + neu.more)}`;
  }
  if (p.name === "Write" && str("content") !== undefined) {
    const content = str("content")!;
    const c = firstLines(content, maxLines);
    return `${head}: write ${splitLines(content).length} line(s), ${Buffer.byteLength(content)} bytes, starting\n\n${indent(fenced(c.shown))}${more(c.more)}`;
  }
  if (p.name === "Bash" && str("command") !== undefined) {
    const c = firstLines(str("command")!, maxLines);
    return `${head}: run\n\n${indent(fenced(c.shown, "sh"))}${more(c.more)}`;
  }
  const json = firstLines(JSON.stringify(p.input, null, 2), maxLines);
  return `${head} with\n\n${indent(fenced(json.shown, "json"))}${more(json.more)}`;
}

export interface SummaryContext {
  /** pod's exit code; "" when pod did not run. */
  exitCode: number | "";
  /** e.g. `acme/pod@v0` — what the approval step's `uses:` names. */
  uses: string;
  /** Inputs the approval step must repeat (working-directory, manifest, runtime-dir, cache-key), when not default. */
  repeatInputs: Record<string, string>;
  /** The CLI form, for people running pod by hand: e.g. `pod --runtime-dir /tmp/x resume`. */
  resumeCommand: string;
  eventsFile: string;
  /** Why the Action itself failed the step, if it did (e.g. no sandbox). */
  actionError?: { code: string; message: string };
}

const ICON: Record<string, string> = { finished: "✅", paused: "⏸️", limit_reached: "⏱️", error: "❌", "": "❌" };
const fmt = (n: number) => n.toLocaleString("en-US");

/** A YAML scalar that reads back as exactly `value` (JSON strings are YAML double-quoted scalars). */
const yamlScalar = (value: string) => (/^[\w./@-]+$/.test(value) && !/^(true|false|null|yes|no|on|off|~|[\d.]+)$/i.test(value) ? value : JSON.stringify(value));

/** The exact step that continues a paused pod in a later job. */
export function approvalStep(ctx: Pick<SummaryContext, "uses" | "repeatInputs">): string {
  const extra = Object.entries(ctx.repeatInputs).map(([k, v]) => `    ${k}: ${yamlScalar(v)}\n`).join("");
  return (
    `- uses: ${ctx.uses}\n` +
    `  env:\n` +
    "    ANTHROPIC_API_KEY: ${{ secrets.ANTHROPIC_API_KEY }}\n" +
    `  with:\n` +
    `    approve: true              # or instead:  deny: "why it is refused"\n` +
    extra
  );
}

/**
 * What the step summary adds to `pod report --format markdown` (which run.mjs puts first):
 * what only this job knows — the exit code, the sandbox, why the Action failed the step,
 * the exact step that decides a pause (with each waiting change shown), where the events are.
 */
export function actionMarkdown(o: RunOutcome, ctx: SummaryContext): string {
  const out: string[] = ["#### This step", ""];
  const rows: [string, string][] = [["exit code", ctx.exitCode === "" || ctx.exitCode === undefined ? "— (pod did not run)" : String(ctx.exitCode)]];
  if (o.start?.sandbox !== undefined) rows.push(["Bash sandbox", o.start.sandbox === null ? "none (Bash off)" : codeSpan(o.start.sandbox)]);
  rows.push(["events", `${codeSpan(ctx.eventsFile, 300)} (also uploaded as the job's artifact)`]);
  out.push("| | |", "| --- | --- |", ...rows.map(([k, v]) => `| ${k} | ${v} |`), "");
  for (const w of o.start?.warnings ?? []) out.push(`- ⚠️ ${codeSpan(w, 400)}`);
  if (o.start?.warnings?.length) out.push("");
  if (ctx.actionError) out.push(`**The step failed: ${codeSpan(ctx.actionError.code)}**`, "", fenced(ctx.actionError.message), "");
  out.push(...pauseMarkdown(o, ctx));
  return out.join("\n");
}

/** A paused run: each waiting call's change and the exact step that decides; or how to continue a stopped one. */
function pauseMarkdown(o: RunOutcome, ctx: SummaryContext): string[] {
  const out: string[] = [];
  if (o.result === "paused" && o.pending.length) {
    out.push(`#### Waiting for approval (${o.pending.length === 1 ? "1 call" : `${o.pending.length} calls`})`, "");
    for (const p of o.pending) out.push(pendingMarkdown(p), "");
    out.push(
      "To decide, run a job **in this workflow run** (same `cache-key`, same matrix) with this step — usually in a protected environment whose reviewers are the approvers:",
      "",
      fenced(approvalStep(ctx), "yaml"),
      "",
      `By hand, with the runtime directory: ${codeSpan(`${ctx.resumeCommand} --approve`, 300)} or ${codeSpan(`${ctx.resumeCommand} --deny "why"`, 300)}.`,
      "",
    );
  } else if (o.result === "paused") {
    out.push("The run stopped before it finished (cancelled, a signal, or its time limit) and can be continued: a later job in this workflow run with `resume: true` (or a new `prompt`), or " + codeSpan(ctx.resumeCommand, 300) + " by hand.", "");
  }
  return out;
}

/**
 * The run summary for `$GITHUB_STEP_SUMMARY` when there is no `pod report` to write (pod did
 * not run, or its report failed): written from run_end and run_start alone.
 */
export function summaryMarkdown(o: RunOutcome, ctx: SummaryContext): string {
  const out: string[] = [];
  const result = ctx.actionError ? "error" : o.result;
  const name = o.start?.pod ? ` ${codeSpan(o.start.pod, 64)}` : "";
  out.push(`### ${ICON[result] ?? "❌"} pod${name}: ${result || "did not run"}${o.limit ? ` (${o.limit} limit)` : ""}`);
  out.push("");
  const rows: [string, string][] = [];
  if (o.start) rows.push(["mode", `${o.start.mode} · model ${codeSpan(o.start.model, 80)}`]);
  if (o.session_id) rows.push(["session", codeSpan(o.session_id, 80)]);
  rows.push(["exit code", ctx.exitCode === "" || ctx.exitCode === undefined ? "— (pod did not run)" : String(ctx.exitCode)]);
  if (o.turns !== undefined) rows.push(["turns", String(o.turns)]);
  if (o.usage) {
    const cached = o.usage.cache_read_input_tokens ? ` (${fmt(o.usage.cache_read_input_tokens)} cached)` : "";
    rows.push(["tokens", `${fmt(o.usage.input_tokens)} in${cached} / ${fmt(o.usage.output_tokens)} out`]);
  }
  if (o.cost_usd !== undefined && o.cost_usd !== null) rows.push(["cost", `$${o.cost_usd.toFixed(4)}`]);
  if (o.duration_ms !== undefined) rows.push(["time", `${(o.duration_ms / 1000).toFixed(1)} s`]);
  if (o.start?.sandbox !== undefined) rows.push(["Bash sandbox", o.start.sandbox === null ? "none (Bash off)" : codeSpan(o.start.sandbox)]);
  out.push("| | |", "| --- | --- |", ...rows.map(([k, v]) => `| ${k} | ${v} |`), "");

  if (ctx.actionError) out.push(`**The step failed: ${codeSpan(ctx.actionError.code)}**`, "", fenced(ctx.actionError.message), "");
  for (const e of o.errors) out.push(`- ❌ ${codeSpan(e.code)}: ${codeSpan(e.message, 400)}`);
  if (o.errors.length) out.push("");
  for (const w of o.start?.warnings ?? []) out.push(`- ⚠️ ${codeSpan(w, 400)}`);
  if (o.start?.warnings?.length) out.push("");

  out.push(...pauseMarkdown(o, ctx));

  if (o.denials.length) {
    out.push(`#### Refused (${o.denials.length})`, "");
    for (const d of o.denials) out.push(`- ${codeSpan(d.tool, 60)} (call ${codeSpan(d.id, 80)}): ${codeSpan(d.reason, 300)}`);
    out.push("");
  }
  if (o.files_changed?.length) {
    out.push(`#### Files changed (${o.files_changed.length})`, "");
    for (const f of o.files_changed.slice(0, 200)) out.push(`- ${codeSpan(f.change, 20)} ${codeSpan(f.path)}`);
    if (o.files_changed.length > 200) out.push(`- … ${o.files_changed.length - 200} more`);
    out.push("");
  }
  if (o.result === "finished" && o.text) {
    const t = o.text.length > 60_000 ? `${o.text.slice(0, 60_000)}\n… (cut: the events file has all of it)` : o.text;
    out.push("#### Answer", "", fenced(t, o.output !== undefined ? "json" : "text"), "");
  }
  out.push(`<sub>Events: ${codeSpan(ctx.eventsFile, 300)} (also uploaded as the job's artifact).</sub>`, "");
  return out.join("\n");
}

// ---------------------------------------------------------------------------------------
// The sandbox preflight.

export type Preflight = (
  | { bash: false; reason: string }
  | { bash: true; ok: true; kind: string }
  | { bash: true; ok: false; message: string; hint: string }
  | { manifestError: string }
) & {
  /** The pod's workspace (scope root, absolute), when it has one: where the run's changes apply. */
  scopeRoot?: string;
};

/** Whether this pod's Bash needs a sandbox, and whether one starts here — pod's own checks, as its run_start makes them. */
export async function preflight(opts: { cwd: string; manifest?: string }): Promise<Preflight> {
  let manifest;
  try {
    manifest = await findAndLoadManifest({ dir: opts.cwd, manifest: opts.manifest || undefined });
  } catch (err) {
    // pod reports a bad manifest itself, in the run's own error line.
    return { manifestError: err instanceof PodError ? err.full : String(err) };
  }
  const scope = manifest.scopeRoot === undefined ? {} : { scopeRoot: manifest.scopeRoot };
  const tools = manifest.scopeRoot === undefined ? undefined : manifest.data.tools;
  if (!tools || !tools.bash.enabled || tools.disabled.includes("Bash")) return { bash: false, reason: "Bash is off for this pod", ...scope };
  const s = await sandboxForRun(tools);
  if (s.kind) return { bash: true, ok: true, kind: s.kind, ...scope };
  return { bash: true, ok: false, message: s.error?.message ?? "no sandbox", hint: s.error?.hint ?? "", ...scope };
}

// The bundle is CommonJS: run directly, it answers one preflight (see the header).
if (typeof require !== "undefined" && typeof module !== "undefined" && require.main === module && process.argv[2] === "preflight") {
  preflight(JSON.parse(process.argv[3] ?? "{}")).then(
    (p) => process.stdout.write(JSON.stringify(p) + "\n"),
    (err) => {
      process.stdout.write(JSON.stringify({ manifestError: String(err) }) + "\n");
    },
  );
}
