// The reader API of recorded runs (docs/replay.md, "Reading a recording"): a recording as
// one typed value, for `pod replay`, `pod runs`, `pod report` and anything else that wants
// to look at a run without replaying it. Reads only; safe while the run is still going
// (records.jsonl is append-only, a torn last line is left out).
import { readFileSync } from "node:fs";
import { readdir, readFile } from "node:fs/promises";
import path from "node:path";
import { PodError } from "../errors.js";
import type { Usage } from "../conversation/usage.js";
import { accumulateAll, type Finished, type SseEvent } from "../provider/stream.js";
import { Message, toolUses } from "../conversation/messages.js";
import { HISTORY_FILE, isRunId, RecordLine, RECORDING_VERSION, RECORDS_FILE, RUN_FILE, runDir, RunMeta, runsDir, type Endpoint, type ToolRecord } from "./format.js";
import { DeltaDecoder } from "./request-delta.js";

/** One request pod sent (every attempt its own) and how it ended. */
export interface RecordedExchange {
  n: number;
  endpoint: Endpoint;
  /** The whole body as it was sent (redacted; no headers were ever recorded). */
  body: Record<string, unknown>;
  outcome:
    | { kind: "stream"; events: SseEvent[]; finished: Finished }
    | { kind: "json"; body: unknown }
    | { kind: "failed"; error: string; events: SseEvent[] }
    /** No response was recorded: the run was killed while this request was in flight. */
    | { kind: "none" };
}

/** A tool call of a turn, with its recorded result (absent when the run was cut before it came). */
export interface RecordedToolCall {
  id: string;
  name: string;
  input: Record<string, unknown>;
  result?: Omit<ToolRecord, "kind"> | undefined;
}

/** A completed model turn: a whole response and what came of its tool calls. */
export interface RecordedTurn {
  /** The session's turn number (turn_start.turn). */
  turn: number;
  /** The request (RecordedExchange.n) it answered. */
  request: number;
  message: Message;
  stopReason: string | null;
  usage: Usage;
  toolCalls: RecordedToolCall[];
}

export interface RecordedRun {
  id: string;
  dir: string;
  meta: RunMeta;
  /** The history the run started from, as the model saw it. */
  history: Message[];
  exchanges: RecordedExchange[];
  /** Every tool result, in order (answered-without-running ones included, `ran: false`). */
  toolResults: Omit<ToolRecord, "kind">[];
  turns: RecordedTurn[];
  /** run.json holds the run's end (run_end); false while it runs, or after a crash. */
  ended: boolean;
  /** records.jsonl ended in a torn line (the run was killed while writing it), which was left out. */
  torn: boolean;
}

/** One row of `pod runs`: run.json alone, plus the turn count of a recording that has no end. */
export interface RunSummary {
  run_id: string;
  session_id: string;
  mode: RunMeta["mode"];
  /** null: the run has no end (still running, or killed). */
  result: NonNullable<RunMeta["end"]>["result"] | null;
  turns: number;
  cost_usd: number | null;
  started_at: string;
  ended_at: string | null;
  model: string;
}

const damaged = (file: string, why: string) =>
  new PodError("internal", `the recording ${file} is damaged: ${why}`, "`pod runs` lists the other recordings; this one cannot be replayed");

/** The recorded run `runId` of the pod at `podDir`. A missing one is `not_found` (exit 2). */
export async function readRun(podDir: string, runId: string): Promise<RecordedRun> {
  if (!isRunId(runId)) throw new PodError("not_found", `"${runId.slice(0, 80)}" is not a run id (like 20260101T000000Z-a1b2c3)`, "`pod runs` lists the recorded runs");
  const dir = runDir(podDir, runId);
  const meta = await readMeta(dir);
  if (!meta) throw new PodError("not_found", `no recorded run ${runId} in ${runsDir(podDir)}`, "`pod runs` lists the recorded runs (only the last [pod] keep_runs are kept)");
  const history = readLines(path.join(dir, HISTORY_FILE)).lines.map((l, i) => {
    const m = Message.safeParse(JSON.parse(l));
    if (!m.success) throw damaged(path.join(dir, HISTORY_FILE), `line ${i + 1} is not a message`);
    return m.data;
  });
  const recordsFile = path.join(dir, RECORDS_FILE);
  const { lines, torn } = readLines(recordsFile);
  const decoder = new DeltaDecoder();
  const exchanges = new Map<number, RecordedExchange>();
  const toolResults: Omit<ToolRecord, "kind">[] = [];
  lines.forEach((line, i) => {
    let r: RecordLine;
    try {
      r = RecordLine.parse(JSON.parse(line));
    } catch {
      throw damaged(recordsFile, `line ${i + 1} is not a record`);
    }
    if (r.kind === "request") {
      let body: Record<string, unknown>;
      try {
        body = decoder.decode(r);
      } catch (err) {
        throw damaged(recordsFile, (err as Error).message);
      }
      exchanges.set(r.n, { n: r.n, endpoint: r.endpoint, body, outcome: { kind: "none" } });
      return;
    }
    if (r.kind === "tool_result") {
      const { kind: _kind, ...rest } = r;
      toolResults.push(rest);
      return;
    }
    const x = exchanges.get(r.n);
    if (!x) throw damaged(recordsFile, `line ${i + 1} answers request ${r.n}, which is not recorded`);
    if (r.kind === "response") x.outcome = { kind: "stream", events: r.events as SseEvent[], finished: accumulateAll(r.events as SseEvent[]).finished };
    else if (r.kind === "response_json") x.outcome = { kind: "json", body: r.body };
    else x.outcome = { kind: "failed", error: r.error, events: r.events as SseEvent[] };
  });
  const all = [...exchanges.values()];
  return { id: runId, dir, meta, history, exchanges: all, toolResults, turns: turnsOf(meta, all, toolResults), ended: meta.end !== undefined, torn };
}

/** The model turns of a recording: each streamed turn request that got a whole response. */
function turnsOf(meta: RunMeta, exchanges: readonly RecordedExchange[], results: readonly Omit<ToolRecord, "kind">[]): RecordedTurn[] {
  const turns: RecordedTurn[] = [];
  const byId = new Map(results.map((r) => [r.id, r]));
  for (const x of exchanges) {
    if (x.endpoint !== "messages" || x.outcome.kind !== "stream" || !x.outcome.finished.ok) continue;
    const { message, stopReason, usage } = x.outcome.finished.response;
    turns.push({
      turn: meta.start.turn + turns.length + 1,
      request: x.n,
      message,
      stopReason,
      usage,
      toolCalls: toolUses(message).map((u) => ({ id: u.id, name: u.name, input: u.input as Record<string, unknown>, result: byId.get(u.id) })),
    });
  }
  return turns;
}

/** Every recording of the pod, oldest first (by start time). Damaged ones are left out. */
export async function listRuns(podDir: string): Promise<RunSummary[]> {
  let names: string[];
  try {
    names = (await readdir(runsDir(podDir))).filter(isRunId);
  } catch {
    return [];
  }
  const rows: RunSummary[] = [];
  for (const id of names) {
    const dir = runDir(podDir, id);
    const meta = await readMeta(dir).catch(() => undefined);
    if (!meta) continue;
    let turns = meta.end?.turns;
    if (turns === undefined) turns = await readRun(podDir, id).then((r) => r.turns.length, () => 0);
    rows.push({
      run_id: meta.run_id,
      session_id: meta.session_id,
      mode: meta.mode,
      result: meta.end?.result ?? null,
      turns,
      cost_usd: meta.end ? (meta.end.cost_usd ?? null) : null,
      started_at: meta.started_at,
      ended_at: meta.ended_at ?? null,
      model: meta.model,
    });
  }
  return rows.sort((a, b) => (a.started_at === b.started_at ? (a.run_id < b.run_id ? -1 : 1) : a.started_at < b.started_at ? -1 : 1));
}

/** The id of the pod's most recent recording, or undefined when there is none. */
export async function latestRunId(podDir: string): Promise<string | undefined> {
  return (await listRuns(podDir)).at(-1)?.run_id;
}

async function readMeta(dir: string): Promise<RunMeta | undefined> {
  const file = path.join(dir, RUN_FILE);
  let text: string;
  try {
    text = await readFile(file, "utf8");
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === "ENOENT" || (err as NodeJS.ErrnoException).code === "ENOTDIR") return undefined;
    throw damaged(file, (err as NodeJS.ErrnoException).code ?? "unreadable");
  }
  let raw: unknown;
  try {
    raw = JSON.parse(text);
  } catch {
    throw damaged(file, "not JSON");
  }
  const v = (raw as { v?: unknown } | null)?.v;
  if (typeof v === "number" && v > RECORDING_VERSION) {
    throw new PodError("invalid_input", `the recording ${file} is of format ${v}, newer than this pod reads (${RECORDING_VERSION})`, "replay it with the pod version that recorded it (run.json's pod_version), or a newer one");
  }
  const parsed = RunMeta.safeParse(raw);
  if (!parsed.success) {
    const issue = parsed.error.issues[0]!;
    throw damaged(file, `${issue.path.join(".") || "top level"}: ${issue.message}`);
  }
  return parsed.data;
}

/** The complete lines of a JSONL file; a last line without its newline is torn and left out. */
function readLines(file: string): { lines: string[]; torn: boolean } {
  let text: string;
  try {
    text = readFileSync(file, "utf8");
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === "ENOENT") return { lines: [], torn: false };
    throw damaged(file, (err as NodeJS.ErrnoException).code ?? "unreadable");
  }
  const end = text.lastIndexOf("\n") + 1;
  return { lines: text.slice(0, end).split("\n").filter((l) => l.trim() !== ""), torn: end < text.length };
}
