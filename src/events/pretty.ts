import type { ChalkInstance } from "chalk";
import { colorsFor } from "./colors.js";
import { InertStream, inertValue } from "./inert.js";
import type { EventOf, PodEvent } from "./schema.js";
import type { EventWriter } from "./sink.js";
import { Spinner } from "./spinner.js";
import { builtInTool } from "../tools/registry.js";

/** The argument that says what a tool call is about, for its one-line summary. */
function keyArgument(name: string, input: Record<string, unknown>): string {
  const pick = (k: string) => (typeof input[k] === "string" ? (input[k] as string) : undefined);
  const value = pick("path") ?? pick("pattern") ?? pick("command") ?? JSON.stringify(input);
  const inPath = builtInTool(name)?.summary === "pattern-in-path";
  const extra = inPath && pick("path") && pick("pattern") ? ` in ${pick("path")}` : "";
  const main = inPath ? (pick("pattern") ?? value) : value;
  return oneLine(main + extra, 100);
}

function oneLine(text: string, max: number): string {
  const line = text.replace(/\s+/g, " ").trim();
  return line.length > max ? `${line.slice(0, max - 1)}…` : line;
}

/** The exit status a Bash result ends with (`[exit code: N]`, or `signal X`), if any. */
function exitStatus(output: string): string | undefined {
  return /\[exit code: ([^\]]+)\]\s*$/.exec(output)?.[1];
}

/** A tool result that failed: an error result, or a command that exited non-zero or by a signal. */
export function failedResult(e: { is_error: boolean; output: string }): boolean {
  if (e.is_error) return true;
  const exit = exitStatus(e.output);
  return exit !== undefined && exit !== "0";
}

/** A short summary of a tool's output: its first meaningful line, or a count of lines. */
function resultSummary(name: string, output: string, isError: boolean): string {
  const lines = output.split("\n").filter((l) => l.trim() !== "");
  if (builtInTool(name)?.result === "numbered-lines" && !isError) return `${lines.filter((l) => /^\s*\d+\t/.test(l)).length} lines`;
  const exit = exitStatus(output);
  if (exit !== undefined) return `exit ${exit}${lines.length > 1 ? `, ${lines.length - 1} lines of output` : ""}`;
  if (lines.length <= 1) return oneLine(lines[0] ?? "(no output)", 100);
  return `${oneLine(lines[0]!, 70)} (+${lines.length - 1} lines)`;
}

const fmt = (n: number) => n.toLocaleString("en-US");

/** How to run `pod resume` for this pod: the same -C/--manifest/--runtime-dir as the run. */
export interface PrettyOptions {
  /** e.g. "pod -C services/api resume"; default "pod resume". */
  resumeCommand?: string;
}

/** At most `max` lines of `text`, each indented, with a count of the rest. */
function someLines(text: string, prefix: string, max: number): string[] {
  const lines = text.split("\n");
  const shown = lines.slice(0, max).map((l) => `${prefix}${l.length > 160 ? `${l.slice(0, 159)}…` : l}`);
  if (lines.length > max) shown.push(`${" ".repeat(prefix.length)}… ${lines.length - max} more line${lines.length - max === 1 ? "" : "s"}`);
  return shown;
}

/** A call that waits for approval: the tool, what it is about, and the change it would make. */
function pendingCall(p: { id: string; name: string; input: Record<string, unknown> }, c: ChalkInstance): string[] {
  const str = (k: string) => (typeof p.input[k] === "string" ? (p.input[k] as string) : undefined);
  const head = `  ${c.yellow("⏸")} ${c.bold(p.name)} ${keyArgument(p.name, p.input)} ${c.dim(`(${p.id})`)}`;
  const body: string[] = [];
  const pending = builtInTool(p.name)?.pending;
  if (pending === "edit" && str("old_string") !== undefined) {
    body.push(...someLines(str("old_string")!, "      - ", 8).map((l) => c.red(l)), ...someLines(str("new_string") ?? "", "      + ", 8).map((l) => c.green(l)));
  } else if (pending === "content" && str("content") !== undefined) {
    body.push(...someLines(str("content")!, "      + ", 8).map((l) => c.green(l)));
  } else if (pending !== "summary") {
    body.push(c.dim(`      ${oneLine(JSON.stringify(p.input), 200)}`));
  }
  return [head, ...body];
}

function runEnd(e: EventOf<"run_end">, c: ChalkInstance, opts: PrettyOptions): string {
  const color = e.result === "finished" ? c.green : e.result === "error" ? c.red : c.yellow;
  const cost = e.cost_usd === undefined || e.cost_usd === null ? "" : ` · $${e.cost_usd.toFixed(4)}`;
  const u = e.usage;
  const cache = u.cache_read_input_tokens ? ` (${fmt(u.cache_read_input_tokens)} cached)` : "";
  const limit = e.limit ? ` (${e.limit} limit)` : "";
  const out: string[] = [];
  if (e.output !== undefined) out.push(`${c.bold("output:")} ${JSON.stringify(e.output, null, 2)}`);
  if (e.denials?.length) {
    out.push(c.yellow(`denied (${e.denials.length}):`));
    for (const d of e.denials) out.push(`  ${c.red("✗")} ${d.tool} ${c.dim(`(${d.id})`)}: ${oneLine(d.reason, 160)}`);
  }
  out.push(`${color(`■ ${e.result}${limit}`)} ${c.dim(`· ${e.turns} turn${e.turns === 1 ? "" : "s"} · ${fmt(u.input_tokens)} in${cache} / ${fmt(u.output_tokens)} out${cost} · ${(e.duration_ms / 1000).toFixed(1)}s`)}`);
  if (e.result === "paused" && e.pending?.length) {
    const resume = opts.resumeCommand ?? "pod resume";
    out.push(c.yellow(`waiting for approval (${e.pending.length === 1 ? "1 call" : `${e.pending.length} calls`}):`));
    for (const p of e.pending) out.push(...pendingCall(p, c));
    out.push(`  approve: ${c.bold(`${resume} --approve`)}`, `  deny:    ${c.bold(`${resume} --deny "why"`)}`);
  }
  return out.join("\n") + "\n";
}

/**
 * Renders one event for a person. Pure apart from the colour instance, so it is
 * unit-tested; `prettyWriter` adds streaming state (mid-text newlines, spinner) and
 * makes every string inert first (inert.ts).
 */
export function renderEvent(e: PodEvent, c: ChalkInstance, opts: PrettyOptions = {}): string {
  switch (e.type) {
    case "run_start":
      return `${c.bold(`▶ ${e.pod}`)} ${c.dim(`${e.mode} · ${e.model}`)}\n${e.input ? c.dim(`  ${oneLine(e.input, 160)}\n`) : ""}${e.instructions?.length ? c.dim(`  instructions: ${e.instructions.join(", ")}\n`) : ""}`;
    case "state_repaired":
      return c.yellow(`! ${e.message}\n`);
    case "text_delta":
      return e.text;
    case "thinking_delta":
      return c.dim(e.text);
    case "tool_call_done":
      return `${c.cyan(`  ⚙ ${e.name}`)} ${keyArgument(e.name, e.input)}\n`;
    case "tool_result":
      return `    ${failedResult(e) ? c.red("✗") : c.green("✓")} ${c.dim(resultSummary(e.name, e.output, e.is_error))}${e.truncated ? c.dim(" (truncated)") : ""}\n`;
    case "turn_retry":
      return c.yellow(`  ↻ turn ${e.turn}: ${oneLine(e.reason, 80)}; asking again in ${(e.delay_ms / 1000).toFixed(1)}s\n`);
    case "hook":
      return e.decision === "allow" ? "" : (e.decision === "block" ? c.yellow : c.red)(`    ⛨ ${e.hook} hook ${e.decision === "block" ? "blocked" : "failed"}: ${oneLine(e.message ?? e.command, 120)}\n`);
    case "model_fallback":
      return c.yellow(`  ↘ ${e.from} stays overloaded; using ${e.to} for the rest of the run\n`);
    case "compaction":
      return c.magenta(`  ~ compacted the session: ${fmt(e.tokens_before)} → ${fmt(e.tokens_after)} tokens\n`);
    case "error":
      return c.red(`✗ ${e.code}: ${e.message}\n`);
    case "run_end":
      return runEnd(e, c, opts);
    default:
      return "";
  }
}

/** A tool that has not answered after this long gets a spinner with its elapsed time. */
const LONG_TOOL_MS = 1000;

/**
 * The pretty output: rendered events on stdout, and on stderr (a terminal only) a
 * spinner while the model thinks or a tool runs long. Everything shown is inert:
 * no escape sequence or CI workflow command from the model, a tool or a file gets
 * through (inert.ts).
 */
export function prettyWriter(out: NodeJS.WriteStream = process.stdout, spinner = new Spinner(), opts: PrettyOptions = {}): EventWriter {
  const c = colorsFor(out);
  let midText = false;
  let lastStream: "text_delta" | "thinking_delta" | undefined;
  let closed = false;
  const streams = { text_delta: new InertStream(), thinking_delta: new InertStream() };
  /** Calls announced but not answered yet, in order: they run one after the other once the response is in. */
  const calls: { id: string; label: string }[] = [];
  let toolSince = 0;
  out.on("error", (err: NodeJS.ErrnoException) => {
    if (err.code === "EPIPE") closed = true;
  });
  const write = (text: string) => {
    if (text && !closed) out.write(text);
  };
  const runningTool = () => {
    const next = calls[0];
    if (next) spinner.start(next.label, { since: toolSince, afterMs: LONG_TOOL_MS });
  };
  const event = (raw: PodEvent) => {
    // A heartbeat is for JSONL readers; a person already sees the spinner. Argument
    // deltas render nothing and come by the hundred: no spinner redraw for them.
    if (raw.type === "waiting" || raw.type === "tool_call_args_delta" || raw.type === "tool_call_start") return;
    spinner.stop();
    // What a stream held back at a line start comes out before anything else is shown.
    if (lastStream && raw.type !== lastStream) {
      const held = streams[lastStream].flush();
      if (held) {
        write(renderEvent({ ...raw, type: lastStream, text: held } as PodEvent, c, opts));
        midText = !held.endsWith("\n");
      }
    }
    let text =
      raw.type === "text_delta" || raw.type === "thinking_delta"
        ? renderEvent({ ...raw, text: streams[raw.type].push(raw.text) }, c, opts)
        : renderEvent(inertValue(raw), c, opts);
    // Thinking and the answer both stream as text; a new line between them keeps them apart.
    if (text && midText && lastStream !== undefined && (raw.type === "text_delta" || raw.type === "thinking_delta") && raw.type !== lastStream) text = `\n${text}`;
    if (raw.type === "text_delta" || raw.type === "thinking_delta") {
      if (text) midText = !text.endsWith("\n");
      lastStream = raw.type;
    } else if (text && midText) {
      text = `\n${text}`;
      midText = false;
    }
    write(text);

    if (raw.type === "turn_start") {
      calls.length = 0;
      spinner.start("waiting for the model");
    } else if (raw.type === "tool_call_done") {
      calls.push({ id: raw.id, label: `${raw.name} ${keyArgument(raw.name, inertValue(raw.input))}` });
    } else if (raw.type === "usage") {
      // The response is complete: its calls run now, the first one first.
      toolSince = Date.now();
      runningTool();
    } else if (raw.type === "tool_result") {
      const i = calls.findIndex((x) => x.id === raw.id);
      if (i >= 0) calls.splice(i, 1);
      toolSince = Date.now();
      runningTool();
    } else if (raw.type === "hook" && calls.length) {
      runningTool();
    } else if (raw.type === "run_end") {
      calls.length = 0;
    }
  };
  return { kind: "events", event };
}
