import type { ChalkInstance } from "chalk";
import { colorsFor } from "./colors.js";
import type { PodEvent } from "./schema.js";
import type { EventWriter } from "./sink.js";
import { Spinner } from "./spinner.js";

/** The argument that says what a tool call is about, for its one-line summary. */
function keyArgument(name: string, input: Record<string, unknown>): string {
  const pick = (k: string) => (typeof input[k] === "string" ? (input[k] as string) : undefined);
  const value = pick("path") ?? pick("pattern") ?? pick("command") ?? JSON.stringify(input);
  const extra = name === "Grep" && pick("path") && pick("pattern") ? ` in ${pick("path")}` : "";
  const main = name === "Grep" ? (pick("pattern") ?? value) : value;
  return oneLine(main + extra, 100);
}

function oneLine(text: string, max: number): string {
  const line = text.replace(/\s+/g, " ").trim();
  return line.length > max ? `${line.slice(0, max - 1)}…` : line;
}

/** A short summary of a tool's output: its first meaningful line, or a count of lines. */
function resultSummary(name: string, output: string, isError: boolean): string {
  const lines = output.split("\n").filter((l) => l.trim() !== "");
  if (name === "Read" && !isError) return `${lines.filter((l) => /^\s*\d+\t/.test(l)).length} lines`;
  const exit = /\[exit code: (\S+)\]\s*$/.exec(output);
  if (exit) return `exit ${exit[1]}${lines.length > 1 ? `, ${lines.length - 1} lines of output` : ""}`;
  if (lines.length <= 1) return oneLine(lines[0] ?? "(no output)", 100);
  return `${oneLine(lines[0]!, 70)} (+${lines.length - 1} lines)`;
}

const fmt = (n: number) => n.toLocaleString("en-US");

/**
 * Renders one event for a person. Pure apart from the colour instance, so it is
 * unit-tested; `prettyWriter` adds streaming state (mid-text newlines, spinner).
 */
export function renderEvent(e: PodEvent, c: ChalkInstance): string {
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
      return `    ${e.is_error ? c.red("✗") : c.green("✓")} ${c.dim(resultSummary(e.name, e.output, e.is_error))}${e.truncated ? c.dim(" (truncated)") : ""}\n`;
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
    case "run_end": {
      const color = e.result === "finished" ? c.green : e.result === "error" ? c.red : c.yellow;
      const cost = e.cost_usd === undefined || e.cost_usd === null ? "" : ` · $${e.cost_usd.toFixed(4)}`;
      const u = e.usage;
      const cache = u.cache_read_input_tokens ? ` (${fmt(u.cache_read_input_tokens)} cached)` : "";
      const limit = e.limit ? ` (${e.limit} limit)` : "";
      const output = e.output === undefined ? "" : `${c.bold("output:")} ${JSON.stringify(e.output, null, 2)}\n`;
      return `${output}${color(`■ ${e.result}${limit}`)} ${c.dim(`· ${e.turns} turn${e.turns === 1 ? "" : "s"} · ${fmt(u.input_tokens)} in${cache} / ${fmt(u.output_tokens)} out${cost} · ${(e.duration_ms / 1000).toFixed(1)}s`)}\n`;
    }
    default:
      return "";
  }
}

/** The pretty output: rendered events on stdout, a spinner on stderr while the model thinks. */
export function prettyWriter(out: NodeJS.WriteStream = process.stdout, spinner = new Spinner()): EventWriter {
  const c = colorsFor(out);
  let midText = false;
  let lastStream: "text_delta" | "thinking_delta" | undefined;
  let closed = false;
  out.on("error", (err: NodeJS.ErrnoException) => {
    if (err.code === "EPIPE") closed = true;
  });
  const event = (e: PodEvent) => {
    if (e.type === "turn_start") spinner.start("waiting for the model");
    // A heartbeat is for JSONL readers; a person already sees the spinner.
    else if (e.type === "waiting") return;
    else spinner.stop();
    if (closed) return;
    let text = renderEvent(e, c);
    // Thinking and the answer both stream as text; a new line between them keeps them apart.
    if (text && midText && lastStream !== undefined && (e.type === "text_delta" || e.type === "thinking_delta") && e.type !== lastStream) text = `\n${text}`;
    if (e.type === "text_delta" || e.type === "thinking_delta") {
      midText = !e.text.endsWith("\n");
      lastStream = e.type;
    } else if (text && midText) {
      text = `\n${text}`;
      midText = false;
    }
    if (text) out.write(text);
  };
  return { kind: "events", event };
}
