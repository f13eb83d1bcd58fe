import { readdir, rm } from "node:fs/promises";
import path from "node:path";
import { z } from "zod";
import { EXIT, PodError, asPodError } from "../errors.js";
import { refuse } from "../events/refuse.js";
import { ZERO_USAGE, type EventBody, type RunResult } from "../events/schema.js";
import type { EventSink } from "../events/sink.js";
import type { Manifest } from "../manifest.js";
import { buildSystemPrompt, type SystemPrompt } from "../prompt/system-prompt.js";
import { contextWindowFor, costUsd } from "../conversation/pricing.js";
import { podEnv } from "../env-config.js";
import { buildRequest, toolDefinitions } from "../provider/request.js";
import { replayClient, type RecordedAnswer, type RecordedAnswers } from "../provider/replay-client.js";
import type { TapEndpoint } from "../provider/tap.js";
import type { Redactor } from "../redact/redactor.js";
import { pinTrustedInputs, type Pins } from "../contract/pins.js";
import { compactSession } from "./compaction.js";
import { startExtensions, type Extensions } from "./extensions.js";
import { requestLimits } from "./limits.js";
import { runLoop } from "./run-loop.js";
import { compileOutputSchema, FINAL_ANSWER_TOOL, OutputGate } from "./structured-output.js";
import { acquirePodLock, type HeldLock } from "../store/lock.js";
import { podPaths } from "../store/paths.js";
import { SessionStore } from "../store/session-store.js";
import type { Toolbox } from "../tools/index.js";
import { sandboxForRun } from "../sandbox/detect.js";
import { trackChanges } from "../changes/index.js";
import { reviewOutputSchema } from "../review/index.js";
import { runToolbox } from "./invocation.js";
import type { Tool, ToolResult } from "../tools/types.js";
import { runsDir } from "../runs/format.js";
import { firstDifference } from "../runs/diverge.js";
import { latestRunId, readRun, type RecordedExchange, type RecordedRun } from "../runs/reader.js";
import { aboutSession } from "./emit.js";

export type ReplayTools = "live" | "recorded";

export interface ReplayOptions {
  manifest: Manifest;
  runtimeDir: string;
  sink: EventSink;
  /** Default: the pod's most recent recording. */
  runId?: string | undefined;
  tools: ReplayTools;
}

const EXIT_FOR_RESULT: Record<RunResult, number> = { finished: EXIT.finished, paused: EXIT.paused, limit_reached: EXIT.limit_reached, error: EXIT.error };

/**
 * `pod replay [RUN_ID] [--tools live|recorded]`: the recorded run driven again through the
 * ordinary run loop, the model's answers read from the recording (src/provider/replay-client.ts)
 * and each request pod would send compared with the recorded one first (`diverged` at the
 * first difference). No key and no network.
 *
 * The pod's own state is never written: the replay's messages go to a session of its own,
 * `<pod dir>/replays/<id>.jsonl`; status.json, the sessions and the recordings stay as they
 * are. `--tools live` (the default) runs the tools on the workspace again, so it holds the
 * pod lock as a run does (already_running when the pod runs; a run started meanwhile is
 * refused); `--tools recorded` touches nothing (the tools' definitions and results are the
 * recorded ones, no hook or MCP server starts) and takes no lock.
 */
export async function invokeReplay(opts: ReplayOptions): Promise<number> {
  const { manifest, sink } = opts;
  const started = Date.now();
  const controller = new AbortController();
  const live = opts.tools === "live";
  const paths = podPaths(opts.runtimeDir, manifest.data.pod.name);
  const scopeRules = manifest.scopeRoot === undefined ? undefined : { root: manifest.scopeRoot, deny: manifest.data.scope?.deny ?? [], runtimeDir: opts.runtimeDir, manifestFile: manifest.file };
  const sandbox = live ? sandboxForRun(manifest.scopeRoot === undefined ? undefined : manifest.data.tools) : Promise.resolve({ kind: null, error: undefined });

  let run: RecordedRun;
  let systemPrompt: SystemPrompt;
  let pins: Pins | undefined;
  let output: OutputGate | undefined;
  let lock: HeldLock | undefined;
  try {
    const id = opts.runId ?? (await latestRunId(paths.dir));
    if (id === undefined) {
      throw new PodError("not_found", `pod "${manifest.data.pod.name}" has no recorded run in ${runsDir(paths.dir)}`, "`pod run` records every run; `pod import` brings a pod's recorded runs from another job or machine");
    }
    run = await readRun(paths.dir, id);
    // The prompt as this pod builds it now, with the machine's and the day's facts the recorded run's prompt named.
    systemPrompt = await buildSystemPrompt({ manifest, runtimeDir: opts.runtimeDir, redactor: sink.redactor, environment: run.meta.environment, review: run.meta.review === true });
    const schema = run.meta.output_schema;
    if (schema) output = new OutputGate(await compileOutputSchema(schema.schema, schema.file));
    else if (run.meta.review && scopeRules) output = new OutputGate(await reviewOutputSchema(scopeRules));
    if (live) {
      pins = await pinTrustedInputs({ manifest, runtimeDir: opts.runtimeDir, instructions: systemPrompt.sources });
      lock = await acquirePodLock(paths.dir, paths.lock, {
        onCompromised: (err) => {
          process.stderr.write(`pod: lost the pod lock (${err.message}); stopping the replay\n`);
          controller.abort();
        },
      });
    }
  } catch (err) {
    return refuse(sink, err);
  }

  const onSignal = () => {
    if (controller.signal.aborted) process.exit(130);
    controller.abort();
  };
  process.on("SIGINT", onSignal);
  process.on("SIGTERM", onSignal);
  let extensions: Extensions | undefined;
  let store: SessionStore | undefined;
  try {
    try {
      if (live) extensions = await startExtensions(manifest, sink, pins, opts.runtimeDir);
    } catch (err) {
      return refuse(sink, err);
    }
    const meta = run.meta;
    const model = meta.model;
    const limits = requestLimits({ model, maxTurns: meta.limits.max_turns, maxCostUsd: meta.limits.max_cost_usd, pricing: manifest.data.pricing });
    const replays = path.join(paths.dir, "replays");
    await pruneReplays(replays, Math.max(0, manifest.data.pod.keep_runs - 1));
    store = await SessionStore.create(replays, undefined, { redactor: sink.redactor });
    for (const m of run.history) await store.append(m, meta.start.turn);
    aboutSession(sink, store.id);

    const warnings = [...systemPrompt.warnings];
    if (!run.ended) warnings.push(`the recording ${meta.run_id} has no end (the run was killed, or is still running): it replays up to its last completed turn`);
    sink.emit("run_start", {
      run_id: meta.run_id,
      pod: manifest.data.pod.name,
      mode: "replay",
      model,
      ...(meta.input !== undefined ? { input: meta.input } : {}),
      sandbox: (await sandbox).kind,
      instructions: systemPrompt.instructions,
      ...(warnings.length > 0 ? { warnings } : {}),
    });
    for (const f of extensions?.failures ?? []) sink.emit("error", { code: f.code, message: f.message });
    const sandboxError = (await sandbox).error;
    if (sandboxError) sink.emit("error", { code: sandboxError.code, message: sandboxError.full });

    // Live: files_changed on run_end, as the run had it (what this replay changed in the scope).
    const changes = live && scopeRules ? trackChanges(scopeRules) : undefined;
    const toolbox = live ? await runToolbox(manifest, opts.runtimeDir, pins!, extensions!, changes) : recordedToolbox(run);
    const answers = new Answers(run, sink.redactor);
    const client = replayClient(answers, () => controller.abort());
    const replayStore = store;
    const compact = async (): Promise<boolean> => {
      try {
        const done = await compactSession({
          client,
          model,
          store: replayStore,
          keepRecentTurns: manifest.data.compaction.keep_recent_turns,
          touched: toolbox?.touchedFiles() ?? { read: [], written: [] },
          sink,
          signal: controller.signal,
          systemPrompt: systemPrompt.text,
          prefix: (history) => buildRequest({ manifest, model, system: systemPrompt.text, tools: toolDefinitions(toolbox?.tools ?? []), history }),
        });
        return done.compacted;
      } catch (err) {
        const e = answers.diverged ?? asPodError(err);
        sink.emit("error", { code: e.code, message: e.full });
        if (answers.diverged) controller.abort();
        return false;
      }
    };
    const recorded = new Map(run.toolResults.filter((r) => r.ran).map((r) => [r.id, r]));
    const loopOutcome = await runLoop(
      {
        client,
        manifest,
        model,
        systemPrompt: systemPrompt.text,
        limits,
        output,
        store,
        toolbox,
        sink,
        signal: controller.signal,
        sessionTurn: meta.start.turn,
        compactAboveTokens: contextWindowFor(model, podEnv().contextWindow) * 0.8,
        compactNow: compact,
        onStop: changes ? changes.gateStop(extensions?.onStop) : extensions?.onStop,
        fallbackModel: manifest.data.provider.fallback_model,
        verifyContract: pins ? () => pins!.verify() : undefined,
        onTurnSaved: async () => {},
        runTool: async (call, exec): Promise<ToolResult> => {
          // The structured output's gate keeps what it accepted: it always sees the call (it touches nothing).
          if (output && call.name === FINAL_ANSWER_TOOL) return exec();
          const r = recorded.get(call.id);
          if (!r) {
            // The recorded run never got this call's result (it was stopped or killed while the call ran).
            controller.abort();
            return { output: `Not run: the recording ends before this ${call.name} call's result (the recorded run was stopped or killed while it ran).`, isError: true, truncated: false };
          }
          if (live) return exec();
          return { output: r.output, isError: r.is_error, truncated: r.truncated, ...(r.denied ? { denied: true } : {}) };
        },
      },
      { pending: meta.resume?.pending ?? null, approval: meta.resume?.approval },
    );
    let outcome = loopOutcome;
    const diverged = answers.diverged ?? (outcome.result !== "error" && !answers.exhausted ? answers.leftOver(outcome.result, outcome.sessionTurn) : undefined);
    if (diverged) outcome = { ...outcome, result: "error", pending: null, error: diverged };
    // Recorded: nothing changes here, so what the recorded run changed, when the replay reached its end.
    const recordedEnd = meta.end as (typeof meta.end & { files_changed?: unknown; files_changed_truncated?: unknown }) | undefined;
    const reachedEnd = !live && !answers.exhausted && recordedEnd !== undefined && outcome.result === recordedEnd.result && recordedEnd.files_changed !== undefined;
    const changed = live
      ? await changes?.finish()
      : reachedEnd
        ? { fields: { files_changed: recordedEnd.files_changed, ...(recordedEnd.files_changed_truncated ? { files_changed_truncated: true } : {}) } as Pick<EventBody<"run_end">, "files_changed" | "files_changed_truncated">, error: undefined }
        : undefined;
    if (changed?.error) sink.emit("error", { code: changed.error.code, message: changed.error.full });
    if (outcome.error) sink.emit("error", { code: outcome.error.code, message: outcome.error.full });
    const atRest = outcome.result === "finished" || (outcome.result === "limit_reached" && outcome.limit !== "time");
    if (atRest && (outcome.lastContextTokens ?? 0) > manifest.data.compaction.threshold_tokens) await compact();
    const end: EventBody<"run_end"> = {
      result: outcome.result,
      ...(outcome.limit ? { limit: outcome.limit } : {}),
      turns: outcome.turns,
      usage: outcome.usage,
      cost_usd: costUsd(outcome.model, outcome.usage, manifest.data.pricing),
      duration_ms: Date.now() - started,
      ...(outcome.output !== undefined ? { output: outcome.output } : {}),
      ...(outcome.result === "paused" ? { pending: outcome.pending ? [{ id: outcome.pending.id, name: outcome.pending.name, input: outcome.pending.input }] : [] } : {}),
      denials: outcome.denials,
      ...changed?.fields,
    };
    sink.emit("run_end", end);
    return EXIT_FOR_RESULT[outcome.result];
  } catch (err) {
    const e = asPodError(err);
    sink.emit("error", { code: e.code, message: e.full });
    sink.emit("run_end", { result: "error", turns: 0, usage: ZERO_USAGE, duration_ms: Date.now() - started, denials: [] });
    return EXIT.error;
  } finally {
    process.off("SIGINT", onSignal);
    process.off("SIGTERM", onSignal);
    await extensions?.close();
    await store?.close().catch(() => {});
    await lock?.release().catch(() => {});
  }
}

/**
 * The recorded answers, in the order the run asked for them. Turn requests (streamed) are
 * answered by the recorded streams that arrived whole; a failed or cancelled attempt is
 * passed over (its retry follows it in the recording). Compaction's summary and token
 * counts are answered in their own order.
 */
class Answers implements RecordedAnswers {
  private readonly lists: Record<"turn" | "summary" | "count", RecordedExchange[]>;
  private readonly cursor = { turn: 0, summary: 0, count: 0 };
  /** The first difference met; the replay ends with it. */
  diverged: PodError | undefined;
  /** A turn request found no recorded answer: the recording ends there (the run was stopped there). */
  exhausted = false;

  constructor(
    private readonly run: RecordedRun,
    private readonly redactor: Redactor,
  ) {
    const isTurn = (x: RecordedExchange) => x.endpoint === "messages" && x.body.stream === true;
    this.lists = {
      turn: run.exchanges.filter((x) => isTurn(x) && x.outcome.kind === "stream" && x.outcome.finished.ok),
      summary: run.exchanges.filter((x) => x.endpoint === "messages" && !isTurn(x) && x.outcome.kind === "json"),
      count: run.exchanges.filter((x) => x.endpoint === "count_tokens" && x.outcome.kind === "json"),
    };
  }

  next(endpoint: TapEndpoint, params: Record<string, unknown>): RecordedAnswer {
    if (this.diverged) throw this.diverged;
    const kind = endpoint === "count_tokens" ? "count" : params.stream === true ? "turn" : "summary";
    const i = this.cursor[kind];
    const x = this.lists[kind][i];
    const turn = this.run.meta.start.turn + this.cursor.turn + (kind === "turn" ? 1 : 0);
    if (!x) {
      if (kind !== "turn") return undefined;
      // The recorded run asked again and got no whole answer (stopped, killed, or failed there): the recording ends.
      const last = this.lists.turn.at(-1);
      const after = this.run.exchanges.some((e) => e.endpoint === "messages" && e.body.stream === true && (!last || e.n > last.n));
      if (after || !this.run.ended) {
        this.exhausted = true;
        return undefined;
      }
      throw this.diverge(turn, `the recorded run ended after turn ${turn - 1} (${this.run.meta.end?.result}); this replay asks the model again`);
    }
    this.cursor[kind]++;
    const now = JSON.parse(JSON.stringify(this.redactor.value(params))) as Record<string, unknown>;
    const diff = firstDifference(x.body, now);
    if (diff) throw this.diverge(turn, kind === "turn" ? `the request differs from the recorded one (request ${x.n}): ${diff}` : `compaction's ${kind === "count" ? "token count" : "summary"} request differs from the recorded one: ${diff}`);
    if (x.outcome.kind === "stream") return { events: x.outcome.events };
    if (x.outcome.kind === "json") return { body: x.outcome.body };
    return undefined;
  }

  /** After a replay that ended on its own: the recorded run went on to more turns (the replay stopped earlier). */
  leftOver(result: RunResult, lastTurn: number): PodError | undefined {
    const left = this.lists.turn.length - this.cursor.turn;
    if (left <= 0) return undefined;
    return this.diverge(lastTurn, `the replay ended (${result}) after turn ${lastTurn}, but the recorded run went on for ${left} more turn${left === 1 ? "" : "s"}`);
  }

  private diverge(turn: number, what: string): PodError {
    this.diverged = new PodError(
      "diverged",
      `replay of ${this.run.meta.run_id} diverged at turn ${turn}: ${what}`,
      "the recorded responses answer the recorded requests only, so the replay stops at the first difference. Restore what changed since the run (a file the model read, pod.toml, the instruction files), or replay with `--tools recorded` to give the model the recorded tool results",
    );
    return this.diverged;
  }
}

/**
 * `--tools recorded`: the tools exactly as the recorded run's first request offered them
 * (MCP tools included, no server started), answering every call from the recording.
 */
function recordedToolbox(run: RecordedRun): Toolbox | undefined {
  const first = run.exchanges.find((x) => x.endpoint === "messages" && x.body.stream === true);
  const defs = Array.isArray(first?.body.tools) ? (first!.body.tools as Record<string, unknown>[]) : [];
  const tools: Tool[] = defs
    .filter((d) => d.name !== FINAL_ANSWER_TOOL)
    .map((d) => ({
      name: String(d.name),
      description: String(d.description ?? ""),
      inputSchema: z.record(z.string(), z.unknown()),
      jsonSchema: (d.input_schema ?? { type: "object" }) as Record<string, unknown>,
      readOnly: true,
      run: async () => ({ output: "Not run: a recorded replay answers every call from the recording.", isError: true, truncated: false }),
    }));
  if (tools.length === 0) return undefined;
  return { tools, touchedFiles: () => ({ read: [], written: [] }) };
}

/** The replays' own sessions: the newest `keep` stay. */
async function pruneReplays(dir: string, keep: number): Promise<void> {
  let names: string[];
  try {
    names = (await readdir(dir)).filter((n) => n.endsWith(".jsonl")).sort();
  } catch {
    return;
  }
  for (const n of names.slice(0, Math.max(0, names.length - keep))) await rm(path.join(dir, n), { force: true }).catch(() => {});
}
