import { TIMING, timing } from "../timing.js";
import { awaitTurnSync, startTurnSync, Trailing } from "./turn-sync.js";
import { setTimeout as sleep } from "node:timers/promises";
import { PodError } from "../errors.js";
import { addUsage, ZERO_USAGE, type RunResult, type Usage } from "../events/schema.js";
import type { EventSink } from "../events/sink.js";
import type { Manifest } from "../manifest.js";
import { textMessage, toolResultMessage, toolUses, unsettledToolUses, type ToolUse } from "../store/messages.js";
import type { Toolbox } from "../tools/index.js";
import type { ToolResult } from "../tools/types.js";
import type { SessionStore } from "../store/session-store.js";
import type { ModelClient } from "../provider/client.js";
import { classifyProviderError, StreamBrokenError } from "../provider/errors.js";
import { networkPolicy, retryDelayMs } from "../provider/retry.js";
import type { CutCall, TurnResponse } from "../provider/stream.js";
import { streamLimits, streamTurn } from "../provider/turn.js";
import { contextTokens } from "./compaction.js";
import { isOverloaded } from "../provider/fallback.js";
import { buildRequest, toolDefinitions } from "../provider/request.js";
import type { PendingCall, ReadProof } from "../store/status.js";
import { limitBeforeRequest, type Limit, type RequestLimits } from "./limits.js";
import { FINAL_ANSWER_TOOL, toolsForHistory, type OutputGate } from "./structured-output.js";

/** What `pod resume --approve|--deny` decided about the pending call. */
export type Approval = { kind: "approve" } | { kind: "deny"; reason: string };

export interface RunContext {
  client: ModelClient;
  manifest: Manifest;
  model: string;
  /** The run's system prompt, the same bytes every turn (prompt caching). */
  systemPrompt: string;
  /** Turns and budget, checked before every request. */
  limits: RequestLimits;
  /** With --output-schema: the final_answer tool and the validation of the answer. */
  output?: OutputGate | undefined;
  store: SessionStore;
  toolbox: Toolbox | undefined;
  sink: EventSink;
  signal: AbortSignal;
  /** Number of the session's last turn before this run; turns continue from it. */
  sessionTurn: number;
  /** Called after every completed turn so status.json is current if the process dies next. */
  onTurnSaved: (progress: RunProgress) => Promise<void>;
  /** Context size at which the session is compacted before the next request (mid-run protection). */
  compactAboveTokens?: number;
  /** Compacts the session now; errors are reported by the callee and do not stop the run. True when it compacted. */
  compactNow?: () => Promise<boolean>;
  /** The stop hooks: asked when the agent would stop; a message sends it back to work (src/hooks/). */
  onStop?: ((signal: AbortSignal) => Promise<string | undefined>) | undefined;
  /** [provider] fallback_model: the rest of the run uses it when the model stays overloaded. */
  fallbackModel?: string | undefined;
  /** After each call that may change something: the pinned trusted inputs' check (src/contract/); an error ends the run. */
  verifyContract?: (() => PodError | undefined) | undefined;
  /** The run's recording (src/runs/): each tool result, written before its tool_result line. */
  recordTool?: ((r: ToolRecord) => void) | undefined;
  /**
   * `pod replay` (src/runs/replay.ts): runs the call (`run`, the ordinary way) or answers it
   * from the recording. Absent in a run: every call is executed.
   */
  runTool?: ((call: ToolUse, run: () => Promise<ToolResult>) => Promise<ToolResult>) | undefined;
}

/** One tool call's result as the run's recording keeps it (src/runs/format.ts). */
export interface ToolRecord {
  turn: number;
  id: string;
  name: string;
  is_error: boolean;
  output: string;
  truncated: boolean;
  denied?: boolean;
  /** false: answered without running (cut, cancelled, denied by a person, superseded). */
  ran: boolean;
  duration_ms: number;
}

export interface RunProgress {
  sessionTurn: number;
  turns: number;
  usage: Usage;
  /** The model the run is using now: ctx.model, or the fallback model after a model_fallback. */
  model: string;
  /** Context size after the last response of this run (input + cache + output tokens). */
  lastContextTokens?: number;
  /** Every tool call the boundary or a person refused in this run, in order (run_end.denials). */
  denials: Denial[];
}

/** One refused tool call, as run_end.denials lists it (SPEC "Events"). */
export interface Denial {
  id: string;
  tool: string;
  reason: string;
}

export interface RunOutcome extends RunProgress {
  result: RunResult;
  pending: PendingCall | null;
  error?: PodError;
  /** Which limit ended the run, with result limit_reached. */
  limit?: Limit;
  /** The validated structured output (--output-schema), with result finished. */
  output?: unknown;
}

/** Cap on a tool_result event's output; the model still gets the tool's own (capped) output. */
const EVENT_OUTPUT_CAP = 64 * 1024;

/**
 * Whether a call changes nothing, so the model's message need not be durable before it
 * runs: a tool that says so (Read, Glob, Grep, unless wrapped in hooks) or the structured
 * output's final answer. Any other call (Write, Edit, Bash, every MCP tool, a hooked
 * tool) may have an effect, and its intent (the model's message naming it) is fsynced
 * first, so a power loss never leaves an effect without the call that caused it.
 */
function changesNothing(ctx: RunContext, name: string): boolean {
  if (ctx.output && name === FINAL_ANSWER_TOOL) return true;
  return ctx.toolbox?.tools.find((t) => t.name === name)?.readOnly === true;
}

const INTERRUPTED =
  "Not run: pod was stopped before this tool call finished (cancelled or crashed). Its effect is unknown; check the current state before retrying.";

/**
 * The agent loop: model → tool calls → tool results → model … until the model
 * stops, the turn limit, a pause (cancel or approval gate) or an error. Every
 * completed message is appended to the session store as soon as it exists.
 */
export async function runLoop(ctx: RunContext, settle: { pending: PendingCall | null; approval?: Approval }): Promise<RunOutcome> {
  const progress: RunProgress = { sessionTurn: ctx.sessionTurn, turns: 0, usage: { ...ZERO_USAGE }, model: ctx.model, denials: [] };
  const trailing = new Trailing();
  const outcome = await loop(ctx, settle, progress, trailing);
  // The run's end (final status, run_end) is never reported before the session behind it is
  // durable, nor before the last turn's status save and turn_end (the final save must come last).
  try {
    await trailing.flush();
    await ctx.store.sync();
  } catch (err) {
    if (!outcome.error) return { ...outcome, result: "error", pending: null, error: err instanceof PodError ? err : new PodError("internal", (err as Error).message) };
  }
  return outcome;
}

async function loop(ctx: RunContext, settle: { pending: PendingCall | null; approval?: Approval }, progress: RunProgress, trailing: Trailing): Promise<RunOutcome> {
  const done = (result: RunResult, extra: Partial<RunOutcome> = {}): RunOutcome => ({ ...progress, result, pending: null, ...extra });
  const tools = ctx.toolbox?.tools ?? [];
  const apiTools = ctx.output ? [...toolDefinitions(tools), ctx.output.tool] : toolsForHistory(toolDefinitions(tools), ctx.store.messages());
  const ask = new Set<string>(ctx.manifest.data.tools.ask);

  try {
    // A previous process may have left tool calls without results: a pending approval, or a crash/cancel.
    const open = unsettledToolUses(ctx.store.messages());
    if (open.length > 0) {
      // What the model read before the pause, proven by content hash, counts as read here (docs/tools.md, "The tracker").
      if (settle.pending?.reads) await adoptReads(ctx, settle.pending.reads);
      const decide = settleDecision(settle.pending, settle.approval, ask, ctx.signal);
      const paused = await runToolCalls(ctx, open, decide, progress.sessionTurn, progress);
      if (paused) return done("paused", { pending: paused });
      if (ctx.signal.aborted) return done("paused");
    }
    const last = ctx.store.messages().at(-1);
    if (!last || (last.role === "assistant" && toolUses(last).length === 0)) return done("finished");

    for (;;) {
      if (ctx.signal.aborted) return done("paused");
      const limit = limitBeforeRequest(progress, ctx.limits);
      if (limit) return done("limit_reached", { limit });
      if (ctx.compactNow && ctx.compactAboveTokens !== undefined && (progress.lastContextTokens ?? 0) > ctx.compactAboveTokens) {
        // Close to the context window: compact before asking again rather than fail with a provider error.
        await trailing.flush();
        await ctx.compactNow();
        progress.lastContextTokens = undefined;
      }
      progress.turns++;
      progress.sessionTurn++;
      const turn = progress.sessionTurn;
      trailing.then(() => ctx.sink.emit("turn_start", { turn }));

      let response: TurnResponse | undefined;
      for (let compacted = false; ; compacted = true) {
        const buildStart = TIMING ? performance.now() : 0;
        const request = buildRequest({ manifest: ctx.manifest, model: progress.model, tools: apiTools, history: ctx.store.messages(), system: ctx.systemPrompt });
        if (TIMING) timing({ turn, phase: "build_request", ms: performance.now() - buildStart });
        response = await askModel(ctx, request, turn, progress, trailing);
        if (response?.stopReason !== "model_context_window_exceeded") break;
        // The context window filled up mid-response: the response is not kept (it was cut by the
        // window, not finished), its tokens are counted, and the turn is asked again once on a
        // compacted session (SPEC "Events").
        progress.usage = addUsage(progress.usage, response.usage);
        ctx.sink.emit("usage", response.usage);
        if (compacted) return done("error", { error: contextExceeded("the session still does not fit after compacting it") });
        await trailing.flush();
        if (!ctx.compactNow || !(await ctx.compactNow())) return done("error", { error: contextExceeded("compacting the session did not make it smaller") });
        progress.lastContextTokens = undefined;
        ctx.sink.emit("turn_retry", { turn, attempt: 1, reason: "the model's context window is full (stop_reason model_context_window_exceeded): the session was compacted and the turn is asked again", delay_ms: 0 });
      }
      if (!response) {
        // A cancelled stream is dropped whole: the history ends before this turn, so resume simply asks again.
        progress.turns--;
        progress.sessionTurn--;
        return done("paused");
      }
      // Store first, then tell: an event on stdout means the state behind it is durable.
      const appendStart = TIMING ? performance.now() : 0;
      await ctx.store.append(response.message, turn, { usage: response.usage, model: progress.model });
      if (TIMING) timing({ turn, phase: "append_response", ms: performance.now() - appendStart });
      progress.usage = addUsage(progress.usage, response.usage);
      progress.lastContextTokens = contextTokens(response.usage);
      ctx.sink.emit("usage", response.usage);

      const stop = stopKind(response.stopReason);
      const stopReason = response.stopReason ?? "none";
      // Refused, or ended in a way pod does not know: nothing of it is run (the response is
      // kept in the history, where `pod history` shows it) and the run ends with an error.
      const ending = stop === "refusal" ? refusedError(response.message) : stop === "unknown" ? unknownStopError(response.stopReason) : undefined;
      const cutIds = new Set(response.cut.map((c) => c.id));
      const calls = ending ? [] : toolUses(response.message).filter((c) => !cutIds.has(c.id));
      if (ending) {
        // Its calls are answered as not run, so the history stays one the API accepts.
        for (const c of toolUses(response.message)) await answerNotRun(ctx, c, turn, `Not run: the response ended with stop_reason ${stopReason}, so none of its tool calls were run.`);
      } else {
        // A call cut at max_tokens is answered, never run; cut text is asked to be continued.
        for (const c of response.cut) await answerCut(ctx, c, turn, stopReason);
        if (stop === "max_tokens" && response.cut.length === 0) await ctx.store.append(textMessage("user", continueNote(ctx.manifest.data.pod.max_tokens)), turn);
      }
      const paused = calls.length > 0 ? await runToolCalls(ctx, calls, normalDecision(ask, ctx.signal), turn, progress) : null;
      // Durability per turn: one fdatasync for the turn's lines, running while the next
      // request is built and sent; askModel awaits it before any event of the next response.
      startTurnSync(ctx.store, turn);
      // The status save (no fsync: repaired from the session) and turn_end also run alongside
      // the next request when one follows at once; otherwise they are done here.
      const snapshot: RunProgress = { ...progress };
      trailing.then(async () => {
        const saveStart = TIMING ? performance.now() : 0;
        await ctx.onTurnSaved(snapshot);
        if (TIMING) timing({ turn, phase: "save_status", ms: performance.now() - saveStart });
        ctx.sink.emit("turn_end", { turn, stop_reason: stopReason });
      });
      // max_tokens, pause_turn and a cut call go on by themselves: the model has not finished its turn.
      const goesOn = !ending && (stop === "max_tokens" || stop === "pause_turn" || response.cut.length > 0);
      const nextRequestAtOnce = !ending && (calls.length > 0 || goesOn) && !paused && !ctx.signal.aborted && !ctx.output;
      if (!nextRequestAtOnce) await trailing.flush();

      if (ending) return done("error", { error: ending });
      if (paused) return done("paused", { pending: paused });
      if (ctx.signal.aborted) return done("paused");
      if (goesOn) continue;
      if (ctx.output) {
        const verdict = ctx.output.afterTurn(response.message, calls.length > 0);
        if (verdict.kind === "accepted") return done("finished", { output: verdict.value });
        if (verdict.kind === "failed") return done("error", { error: verdict.error });
        // No final answer yet: say why in the history and ask again.
        if (verdict.kind === "nudge") await ctx.store.append(textMessage("user", verdict.text), turn);
        continue;
      }
      if (calls.length === 0) {
        const goOn = ctx.onStop ? await ctx.onStop(ctx.signal) : undefined;
        if (goOn === undefined || ctx.signal.aborted) return done(ctx.signal.aborted ? "paused" : "finished");
        await ctx.store.append(textMessage("user", goOn), turn);
      }
    }
  } catch (err) {
    const error = err instanceof PodError ? err : new PodError("internal", `internal error: ${(err as Error).message}`);
    return done("error", { error });
  }
}

/** How a response's stop_reason decides what comes next (SPEC "Events"). */
type StopKind = "end" | "max_tokens" | "pause_turn" | "refusal" | "unknown";

function stopKind(stopReason: string | null): StopKind {
  switch (stopReason) {
    case "end_turn":
    case "stop_sequence":
    case "tool_use":
      return "end";
    case "max_tokens":
    case "pause_turn":
    case "refusal":
      return stopReason;
    default:
      // model_context_window_exceeded never gets here: it is asked again before the response is stored.
      return "unknown";
  }
}

function refusedError(message: { content: readonly { type: string; text?: string }[] }): PodError {
  const said = message.content
    .flatMap((b) => (b.type === "text" && b.text ? [b.text] : []))
    .join(" ")
    .trim();
  return new PodError(
    "refused",
    `the model declined to continue (stop_reason refusal)${said ? `; it said: ${said.length > 300 ? `${said.slice(0, 300)}…` : said}` : ""}`,
    "nothing of the refused response was run; change the task or its inputs, then `pod run` again (`pod history` shows the exchange)",
  );
}

function unknownStopError(stopReason: string | null): PodError {
  return new PodError(
    "provider_error",
    stopReason === null
      ? "the response ended without a stop_reason, so pod cannot tell whether the model finished"
      : `the response ended with stop_reason "${stopReason}", which this version of pod does not know, so it cannot tell whether the model finished`,
    "nothing of that response was run; it is in `pod history`. Upgrade pod, or report the stop reason",
  );
}

function contextExceeded(why: string): PodError {
  return new PodError(
    "context_exceeded",
    `the conversation no longer fits in the model's context window (stop_reason model_context_window_exceeded); ${why}`,
    "start a fresh session (`pod run --new \"…\"`) with a narrower task, or lower [compaction] keep_recent_turns so compaction keeps fewer turns",
  );
}

/** What the model is told after text cut at max_tokens: go on where it stopped. */
function continueNote(maxTokens: number): string {
  return `[pod: your last response was cut off at the output limit (max_tokens = ${maxTokens}). Continue exactly where it stopped, without repeating what you already wrote.]`;
}

/**
 * A tool call the response ended in the middle of: stored with an error result that says
 * why it was not run, and printed as its tool_result, before any other call of the turn.
 */
async function answerCut(ctx: RunContext, call: CutCall, turn: number, stopReason: string): Promise<void> {
  const why =
    stopReason === "max_tokens"
      ? `your response was cut off at the output limit (max_tokens = ${ctx.manifest.data.pod.max_tokens}) while you were writing this ${call.name} call`
      : `this ${call.name} call did not arrive whole (its block never ended)`;
  await answerNotRun(ctx, call, turn, `Not run: ${why}, so its input was incomplete (${call.json.length} characters arrived). Make the call again; if its input is large, split the work into smaller calls (several Edits rather than one Write of a whole file).`);
}

/** An error result for a call pod did not run, stored and then printed as its tool_result. */
async function answerNotRun(ctx: RunContext, call: { id: string; name: string }, turn: number, output: string): Promise<void> {
  await ctx.store.append(toolResultMessage(call.id, output, true), turn);
  ctx.recordTool?.({ turn, id: call.id, name: call.name, is_error: true, output, truncated: false, ran: false, duration_ms: 0 });
  ctx.sink.emit("tool_result", { id: call.id, name: call.name, is_error: true, output, truncated: false });
}

/**
 * Streams one response, asking again with backoff (or the server's retry-after, capped)
 * after a transient fault, before or during the stream. Every wait is announced with a
 * `turn_retry` line and kept company by `waiting` lines; the turn gives up once its
 * retries would run past the policy's total time. Returns undefined when cancelled.
 */
async function askModel(ctx: RunContext, request: ReturnType<typeof buildRequest>, turn: number, progress: RunProgress, trailing: Trailing): Promise<TurnResponse | undefined> {
  // Nothing of the response is printed before the previous turn's trailing lines and its fsync.
  const ready = async () => {
    await trailing.flush();
    await awaitTurnSync(ctx.store, turn);
  };
  const policy = networkPolicy();
  const limits = streamLimits(turn);
  const baseUrl = ctx.client.baseURL;
  // The retry window restarts after an attempt that delivered events: it made progress.
  // The messages report the real time since the turn's first attempt.
  const turnStart = Date.now();
  let windowStart = turnStart;
  let attempts = 0;
  for (let attempt = 1; ; attempt++) {
    const attemptStart = Date.now();
    attempts++;
    const remaining = policy.totalMs - (attemptStart - windowStart);
    // The last attempt of a window may not wait longer than the window has left.
    const firstEventTimeoutMs = attempt > 1 ? Math.max(1000, Math.min(limits.firstEventTimeoutMs, remaining)) : limits.firstEventTimeoutMs;
    try {
      return await streamTurn(ctx.client, request, ctx.sink, ctx.signal, { ...limits, firstEventTimeoutMs }, ready);
    } catch (err) {
      // The session could not be made durable (disk full, I/O error): not a provider fault, never retried.
      if (err instanceof PodError) throw err;
      if (ctx.signal.aborted) return undefined;
      await ready();
      const verdict = classifyProviderError(err, baseUrl);
      if (!verdict.retry) throw verdict.error;
      if (err instanceof StreamBrokenError) windowStart = attemptStart;
      const delay = retryDelayMs(err, attempt, policy);
      const elapsed = Date.now() - windowStart;
      if (attempt > policy.maxRetries || elapsed + delay >= policy.totalMs) {
        if (ctx.fallbackModel && progress.model !== ctx.fallbackModel && isOverloaded(err)) {
          // Still overloaded after every retry: the rest of the run uses the fallback model.
          ctx.sink.emit("model_fallback", { from: progress.model, to: ctx.fallbackModel, reason: verdict.message });
          progress.model = ctx.fallbackModel;
          request = { ...request, model: ctx.fallbackModel };
          attempt = 0;
          windowStart = Date.now();
          continue;
        }
        throw new PodError("provider_error", `${verdict.message} (after ${attempts} attempt${attempts === 1 ? "" : "s"} in ${elapsedText(Date.now() - turnStart)})`, "the pod is paused; `pod resume` asks again", true);
      }
      ctx.sink.emit("turn_retry", { turn, attempt, reason: verdict.message, delay_ms: delay });
      if (!(await waitWithHeartbeat(ctx, delay, policy.heartbeatMs, turn))) return undefined;
    }
  }
}

/** "0.4s", "3.1s", "95s": the time a turn spent on its attempts and waits. */
function elapsedText(ms: number): string {
  return ms < 10_000 ? `${(ms / 1000).toFixed(1)}s` : `${Math.round(ms / 1000)}s`;
}

/** Sleeps `ms`, printing a `waiting` line every heartbeatMs; false when cancelled. */
async function waitWithHeartbeat(ctx: RunContext, ms: number, heartbeatMs: number, turn: number): Promise<boolean> {
  const start = Date.now();
  for (;;) {
    const left = ms - (Date.now() - start);
    if (left <= 0) return true;
    try {
      await sleep(Math.min(left, heartbeatMs), undefined, { signal: ctx.signal });
    } catch {
      return false;
    }
    if (ms - (Date.now() - start) > 0) ctx.sink.emit("waiting", { turn, waiting_for: "retry", waited_ms: Date.now() - start });
  }
}

/** What to do with one tool call: run it, answer it without running, or pause for approval. */
type Decision = { kind: "run" } | { kind: "answer"; result: ToolResult } | { kind: "pause" };
type Decide = (call: ToolUse) => Decision;

const errorResult = (output: string): ToolResult => ({ output, isError: true, truncated: false });

function normalDecision(ask: ReadonlySet<string>, signal: AbortSignal): Decide {
  return (call) => {
    if (signal.aborted) return { kind: "answer", result: errorResult("Not run: the run was cancelled before this tool call started.") };
    return ask.has(call.name) ? { kind: "pause" } : { kind: "run" };
  };
}

/**
 * Calls left open by an earlier process. With a pending approval, the pending call
 * is approved or denied and the ones after it were never started, so they go the
 * normal way. Without one, the process was cancelled or died mid-call: the calls
 * are answered as interrupted, never silently re-run.
 */
function settleDecision(pending: PendingCall | null, approval: Approval | undefined, ask: ReadonlySet<string>, signal: AbortSignal): Decide {
  const normal = normalDecision(ask, signal);
  if (!pending) return () => ({ kind: "answer", result: errorResult(INTERRUPTED) });
  return (call) => {
    if (call.id !== pending.id) return normal(call);
    if (approval?.kind === "approve") return { kind: "run" };
    if (approval?.kind === "deny") return { kind: "answer", result: { ...errorResult(`A person denied this ${call.name} call: ${approval.reason}`), denied: true } };
    return { kind: "pause" };
  };
}

/**
 * Runs tool calls in order, storing each result as it completes. Returns the call
 * that needs approval (the run pauses there), or null when every call has a result.
 */
async function runToolCalls(ctx: RunContext, calls: readonly ToolUse[], decide: Decide, turn: number, progress: RunProgress): Promise<PendingCall | null> {
  for (const [i, call] of calls.entries()) {
    const decision = decide(call);
    if (decision.kind === "pause") {
      // The resuming process has a fresh tracker: what the model read for this call and the
      // ones after it goes with the pending call, as content hashes (docs/tools.md, "The tracker").
      const reads = await takeReads(ctx, calls.slice(i));
      return { id: call.id, name: call.name, input: asRecord(call.input), ...(reads.length > 0 ? { reads } : {}) };
    }
    if (decision.kind === "run" && !changesNothing(ctx, call.name) && !ctx.store.isDurable()) {
      // A tool that can change something: its intent (the model's message) is durable before it runs.
      const syncStart = TIMING ? performance.now() : 0;
      await ctx.store.sync();
      if (TIMING) timing({ turn, phase: "sync_before_tool", ms: performance.now() - syncStart });
    }
    const started = TIMING ? performance.timeOrigin + performance.now() : 0;
    const t0 = Date.now();
    const result = decision.kind !== "run" ? decision.result : ctx.runTool ? await ctx.runTool(call, () => executeTool(ctx, call)) : await executeTool(ctx, call);
    if (TIMING) timing({ turn, tool: call.name, start: started, end: performance.timeOrigin + performance.now() });
    if (result.denied) progress.denials.push({ id: call.id, tool: call.name, reason: denialReason(result.output) });
    const appendStart = TIMING ? performance.now() : 0;
    await ctx.store.append(toolResultMessage(call.id, result.output, result.isError), turn);
    ctx.recordTool?.({ turn, id: call.id, name: call.name, is_error: result.isError, output: result.output, truncated: result.truncated, ...(result.denied ? { denied: true } : {}), ran: decision.kind === "run", duration_ms: Date.now() - t0 });
    if (TIMING) timing({ turn, phase: "append_result", ms: performance.now() - appendStart });
    ctx.sink.emit("tool_result", {
      id: call.id,
      name: call.name,
      is_error: result.isError,
      output: result.output.length > EVENT_OUTPUT_CAP ? result.output.slice(0, EVENT_OUTPUT_CAP) : result.output,
      truncated: result.truncated || result.output.length > EVENT_OUTPUT_CAP,
    });
    const changed = decision.kind === "run" && !changesNothing(ctx, call.name) ? ctx.verifyContract?.() : undefined;
    if (changed) throw changed;
  }
  return null;
}

/** Validates the model's input against the tool's schema and runs it. Tool failures are results, not throws. */
async function executeTool(ctx: RunContext, call: ToolUse): Promise<ToolResult> {
  if (ctx.output && call.name === FINAL_ANSWER_TOOL) return ctx.output.answer(call);
  const tool = ctx.toolbox?.tools.find((t) => t.name === call.name);
  if (!tool) return errorResult(`Unknown tool "${call.name}". Available tools: ${(ctx.toolbox?.tools ?? []).map((t) => t.name).join(", ") || "none"}.`);
  const input = asRecord(call.input);
  if ("__invalid_input" in input) return errorResult(`The input for ${call.name} was not a JSON object: ${String(input.__invalid_input).slice(0, 500)}`);
  const parsed = tool.inputSchema.safeParse(input);
  if (!parsed.success) {
    const problems = parsed.error.issues.map((i) => `${i.path.join(".") || "input"}: ${i.message}`).join("; ");
    return errorResult(`Invalid input for ${call.name}: ${problems}`);
  }
  try {
    return await tool.run(parsed.data, { signal: ctx.signal });
  } catch (err) {
    return errorResult(`${call.name} failed: ${(err as Error).message}`);
  }
}

/** The reason run_end gives for a refused call: the first line of what the model was told, capped. */
function denialReason(output: string): string {
  const line = output.split("\n", 1)[0]!.trim();
  return line.length > 500 ? `${line.slice(0, 500)}…` : line;
}

/** The read proofs of the files these calls would change (Edit and Write of files read before), one per file. */
async function takeReads(ctx: RunContext, calls: readonly ToolUse[]): Promise<ReadProof[]> {
  const reads = new Map<string, ReadProof>();
  for (const call of calls) {
    const tool = ctx.toolbox?.tools.find((t) => t.name === call.name);
    if (!tool?.readProof) continue;
    const parsed = tool.inputSchema.safeParse(asRecord(call.input));
    if (!parsed.success) continue;
    const proof = await tool.readProof.take(parsed.data).catch(() => undefined);
    if (proof && !reads.has(proof.path)) reads.set(proof.path, proof);
  }
  return [...reads.values()];
}

/** Gives this process's tracker the reads a paused process proved, each checked against the file as it is now. */
async function adoptReads(ctx: RunContext, reads: readonly ReadProof[]): Promise<void> {
  const adopter = ctx.toolbox?.tools.find((t) => t.readProof)?.readProof;
  if (!adopter) return;
  for (const proof of reads) await adopter.adopt(proof).catch(() => {});
}

function asRecord(value: unknown): Record<string, unknown> {
  return value && typeof value === "object" && !Array.isArray(value) ? (value as Record<string, unknown>) : {};
}
