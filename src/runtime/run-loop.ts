// The agent loop: model → tool calls → tool results → model … (docs/runtime.md). One turn is
// takeTurn(); its parts live beside it: the calls in tool-calls.ts, the retries of a request
// in turn-retries.ts, what a stop_reason means in stop-reasons.ts, the steps that trail a
// turn in turn-sync.ts. The types it takes and returns are in run-context.ts.
import type { Tool as ApiTool } from "@anthropic-ai/sdk/resources/messages";
import { TIMING, timing } from "../timing.js";
import { startTurnSync, Trailing } from "./turn-sync.js";
import { PodError } from "../errors.js";
import { addUsage, ZERO_USAGE, type RunResult } from "../events/schema.js";
import { textMessage, toolUses, unsettledToolUses, type ToolUse } from "../conversation/messages.js";
import type { TurnResponse } from "../provider/stream.js";
import { contextTokens } from "./compaction.js";
import { buildRequest, toolDefinitions } from "../provider/request.js";
import type { PendingCall } from "../store/status.js";
import { limitBeforeRequest } from "./limits.js";
import { toolsForHistory } from "./structured-output.js";
import type { Approval, RunContext, RunOutcome, RunProgress } from "./run-context.js";
import { adoptReads, answerCut, answerNotRun, normalDecision, runToolCalls, settleDecision } from "./tool-calls.js";
import { askModel } from "./turn-retries.js";
import { contextExceeded, continueNote, refusedError, stopKind, unknownStopError, type StopKind } from "./stop-reasons.js";

export type { Approval, Denial, RunContext, RunOutcome, RunProgress, ToolRecord } from "./run-context.js";

/** How the run ends: the result and what goes with it (the pending call, the error, the limit, the output). */
type End = Partial<RunOutcome> & { result: RunResult };

/** What the request of every turn offers the model, and which of those calls wait for a person. */
interface TurnTools {
  apiTools: ApiTool[];
  ask: ReadonlySet<string>;
}

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
  const done = (end: End): RunOutcome => ({ ...progress, pending: null, ...end });
  const tools = ctx.toolbox?.tools ?? [];
  const apiTools = ctx.output ? [...toolDefinitions(tools), ctx.output.tool] : toolsForHistory(toolDefinitions(tools), ctx.store.messages());
  const turnTools: TurnTools = { apiTools, ask: new Set<string>(ctx.manifest.data.tools.ask) };
  try {
    const settled = await settleOpenCalls(ctx, settle, turnTools.ask, progress);
    if (settled) return done(settled);
    const last = ctx.store.messages().at(-1);
    if (!last || (last.role === "assistant" && toolUses(last).length === 0)) return done({ result: "finished" });
    for (;;) {
      const stop = await beforeRequest(ctx, progress, trailing);
      if (stop) return done(stop);
      const end = await takeTurn(ctx, turnTools, progress, trailing);
      if (end) return done(end);
    }
  } catch (err) {
    const error = err instanceof PodError ? err : new PodError("internal", `internal error: ${(err as Error).message}`);
    return done({ result: "error", error });
  }
}

/** A previous process may have left tool calls without results: a pending approval, or a crash/cancel. */
async function settleOpenCalls(ctx: RunContext, settle: { pending: PendingCall | null; approval?: Approval }, ask: ReadonlySet<string>, progress: RunProgress): Promise<End | undefined> {
  const open = unsettledToolUses(ctx.store.messages());
  if (open.length === 0) return undefined;
  // What the model read before the pause, proven by content hash, counts as read here (docs/tools.md, "The tracker").
  if (settle.pending?.reads) await adoptReads(ctx, settle.pending.reads);
  const decide = settleDecision(settle.pending, settle.approval, ask, ctx.signal);
  const paused = await runToolCalls(ctx, open, decide, progress.sessionTurn, progress);
  if (paused) return { result: "paused", pending: paused };
  if (ctx.signal.aborted) return { result: "paused" };
  return undefined;
}

/** Before each request: a cancel or a limit ends the run; close to the context window, the session is compacted first. */
async function beforeRequest(ctx: RunContext, progress: RunProgress, trailing: Trailing): Promise<End | undefined> {
  if (ctx.signal.aborted) return { result: "paused" };
  const limit = limitBeforeRequest(progress, ctx.limits);
  if (limit) return { result: "limit_reached", limit };
  if (ctx.compactNow && ctx.compactAboveTokens !== undefined && (progress.lastContextTokens ?? 0) > ctx.compactAboveTokens) {
    // Close to the context window: compact before asking again rather than fail with a provider error.
    await trailing.flush();
    await ctx.compactNow();
    progress.lastContextTokens = undefined;
  }
  return undefined;
}

/** One turn: ask, store the response, answer or run its calls, then say how the run goes on (undefined: another turn). */
async function takeTurn(ctx: RunContext, turnTools: TurnTools, progress: RunProgress, trailing: Trailing): Promise<End | undefined> {
  progress.turns++;
  progress.sessionTurn++;
  const turn = progress.sessionTurn;
  trailing.then(() => ctx.sink.emit("turn_start", { turn }));
  const asked = await askFitting(ctx, turnTools.apiTools, turn, progress, trailing);
  if ("end" in asked) return asked.end;
  const response = asked.response;
  if (!response) {
    // A cancelled stream is dropped whole: the history ends before this turn, so resume simply asks again.
    progress.turns--;
    progress.sessionTurn--;
    return { result: "paused" };
  }
  await storeResponse(ctx, response, turn, progress);
  const stop = stopKind(response.stopReason);
  const stopReason = response.stopReason ?? "none";
  // Refused, or ended in a way pod does not know: nothing of it is run (the response is
  // kept in the history, where `pod history` shows it) and the run ends with an error.
  const ending = stop === "refusal" ? refusedError(response.message) : stop === "unknown" ? unknownStopError(response.stopReason) : undefined;
  const calls = await callsToRun(ctx, response, stop, ending, turn);
  const paused = calls.length > 0 ? await runToolCalls(ctx, calls, normalDecision(turnTools.ask, ctx.signal), turn, progress) : null;
  trailTurn(ctx, turn, progress, trailing, stopReason);
  // max_tokens, pause_turn and a cut call go on by themselves: the model has not finished its turn.
  const goesOn = !ending && (stop === "max_tokens" || stop === "pause_turn" || response.cut.length > 0);
  const nextRequestAtOnce = !ending && (calls.length > 0 || goesOn) && !paused && !ctx.signal.aborted && !ctx.output;
  if (!nextRequestAtOnce) await trailing.flush();

  if (ending) return { result: "error", error: ending };
  if (paused) return { result: "paused", pending: paused };
  if (ctx.signal.aborted) return { result: "paused" };
  if (goesOn) return undefined;
  return afterAnswer(ctx, response, calls.length > 0, turn);
}

/**
 * Asks for the turn's response. When the context window filled up mid-response, the response
 * is not kept (it was cut by the window, not finished), its tokens are counted, and the turn
 * is asked again once on a compacted session (SPEC "Events"). response undefined: cancelled.
 */
async function askFitting(ctx: RunContext, apiTools: ApiTool[], turn: number, progress: RunProgress, trailing: Trailing): Promise<{ response: TurnResponse | undefined } | { end: End }> {
  for (let compacted = false; ; compacted = true) {
    const buildStart = TIMING ? performance.now() : 0;
    const request = buildRequest({ manifest: ctx.manifest, model: progress.model, tools: apiTools, history: ctx.store.messages(), system: ctx.systemPrompt });
    if (TIMING) timing({ turn, phase: "build_request", ms: performance.now() - buildStart });
    const response = await askModel(ctx, request, turn, progress, trailing);
    if (response?.stopReason !== "model_context_window_exceeded") return { response };
    progress.usage = addUsage(progress.usage, response.usage);
    ctx.sink.emit("usage", response.usage);
    if (compacted) return { end: { result: "error", error: contextExceeded("the session still does not fit after compacting it") } };
    await trailing.flush();
    if (!ctx.compactNow || !(await ctx.compactNow())) return { end: { result: "error", error: contextExceeded("compacting the session did not make it smaller") } };
    progress.lastContextTokens = undefined;
    ctx.sink.emit("turn_retry", { turn, attempt: 1, reason: "the model's context window is full (stop_reason model_context_window_exceeded): the session was compacted and the turn is asked again", delay_ms: 0 });
  }
}

/** Store first, then tell: an event on stdout means the state behind it is durable. */
async function storeResponse(ctx: RunContext, response: TurnResponse, turn: number, progress: RunProgress): Promise<void> {
  const appendStart = TIMING ? performance.now() : 0;
  await ctx.store.append(response.message, turn, { usage: response.usage, model: progress.model });
  if (TIMING) timing({ turn, phase: "append_response", ms: performance.now() - appendStart });
  progress.usage = addUsage(progress.usage, response.usage);
  progress.lastContextTokens = contextTokens(response.usage);
  ctx.sink.emit("usage", response.usage);
}

/**
 * The response's calls that will be taken. The others are answered first, never run: all of
 * them when the response ended the run (so the history stays one the API accepts), a call
 * cut at max_tokens; and cut text is asked to be continued.
 */
async function callsToRun(ctx: RunContext, response: TurnResponse, stop: StopKind, ending: PodError | undefined, turn: number): Promise<ToolUse[]> {
  const stopReason = response.stopReason ?? "none";
  if (ending) {
    for (const c of toolUses(response.message)) await answerNotRun(ctx, c, turn, `Not run: the response ended with stop_reason ${stopReason}, so none of its tool calls were run.`);
    return [];
  }
  for (const c of response.cut) await answerCut(ctx, c, turn, stopReason);
  if (stop === "max_tokens" && response.cut.length === 0) await ctx.store.append(textMessage("user", continueNote(ctx.manifest.data.pod.max_tokens)), turn);
  const cutIds = new Set(response.cut.map((c) => c.id));
  return toolUses(response.message).filter((c) => !cutIds.has(c.id));
}

/**
 * Durability per turn: one fdatasync for the turn's lines, running while the next request
 * is built and sent (askModel awaits it before any event of the next response). The status
 * save (no fsync: repaired from the session) and turn_end also run alongside the next
 * request when one follows at once; otherwise the turn flushes them.
 */
function trailTurn(ctx: RunContext, turn: number, progress: RunProgress, trailing: Trailing, stopReason: string): void {
  startTurnSync(ctx.store, turn);
  const snapshot: RunProgress = { ...progress };
  trailing.then(async () => {
    const saveStart = TIMING ? performance.now() : 0;
    await ctx.onTurnSaved(snapshot);
    if (TIMING) timing({ turn, phase: "save_status", ms: performance.now() - saveStart });
    ctx.sink.emit("turn_end", { turn, stop_reason: stopReason });
  });
}

/** The model answered (its calls, if any, done): the structured output's verdict, or the stop hooks'. */
async function afterAnswer(ctx: RunContext, response: TurnResponse, hadCalls: boolean, turn: number): Promise<End | undefined> {
  if (ctx.output) {
    const verdict = ctx.output.afterTurn(response.message, hadCalls);
    if (verdict.kind === "accepted") return { result: "finished", output: verdict.value };
    if (verdict.kind === "failed") return { result: "error", error: verdict.error };
    // No final answer yet: say why in the history and ask again.
    if (verdict.kind === "nudge") await ctx.store.append(textMessage("user", verdict.text), turn);
    return undefined;
  }
  if (hadCalls) return undefined;
  const goOn = ctx.onStop ? await ctx.onStop(ctx.signal) : undefined;
  if (goOn === undefined || ctx.signal.aborted) return { result: ctx.signal.aborted ? "paused" : "finished" };
  await ctx.store.append(textMessage("user", goOn), turn);
  return undefined;
}
