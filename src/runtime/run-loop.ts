import { setTimeout as sleep } from "node:timers/promises";
import { PodError } from "../errors.js";
import { addUsage, ZERO_USAGE, type RunResult, type Usage } from "../events/schema.js";
import type { EventSink } from "../events/sink.js";
import type { Manifest } from "../manifest.js";
import { textMessage, toolResultMessage, toolUses, unsettledToolUses, type ToolUse } from "../store/messages.js";
import type { SessionStore } from "../store/session-store.js";
import type { Toolbox } from "../tools/index.js";
import type { ToolResult } from "../tools/types.js";
import { describeProviderError, isTransient, shouldRetryTurn, streamTurn, type ModelClient } from "../provider/model.js";
import { contextTokens } from "./compaction.js";
import { buildRequest, toolDefinitions } from "../provider/request.js";
import type { PendingCall } from "../store/status.js";
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
  /** Compacts the session now; errors are reported by the callee and do not stop the run. */
  compactNow?: () => Promise<void>;
}

export interface RunProgress {
  sessionTurn: number;
  turns: number;
  usage: Usage;
  /** Context size after the last response of this run (input + cache + output tokens). */
  lastContextTokens?: number;
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

const INTERRUPTED =
  "Not run: pod was stopped before this tool call finished (cancelled or crashed). Its effect is unknown; check the current state before retrying.";

/**
 * The agent loop: model → tool calls → tool results → model … until the model
 * stops, the turn limit, a pause (cancel or approval gate) or an error. Every
 * completed message is appended to the session store as soon as it exists.
 */
export async function runLoop(ctx: RunContext, settle: { pending: PendingCall | null; approval?: Approval }): Promise<RunOutcome> {
  const progress: RunProgress = { sessionTurn: ctx.sessionTurn, turns: 0, usage: { ...ZERO_USAGE } };
  const done = (result: RunResult, extra: Partial<RunOutcome> = {}): RunOutcome => ({ ...progress, result, pending: null, ...extra });
  const tools = ctx.toolbox?.tools ?? [];
  const apiTools = ctx.output ? [...toolDefinitions(tools), ctx.output.tool] : toolsForHistory(toolDefinitions(tools), ctx.store.messages());
  const ask = new Set<string>(ctx.manifest.data.tools.ask);

  try {
    // A previous process may have left tool calls without results: a pending approval, or a crash/cancel.
    const open = unsettledToolUses(ctx.store.messages());
    if (open.length > 0) {
      const decide = settleDecision(settle.pending, settle.approval, ask, ctx.signal);
      const paused = await runToolCalls(ctx, open, decide, progress.sessionTurn);
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
        await ctx.compactNow();
        progress.lastContextTokens = undefined;
      }
      progress.turns++;
      progress.sessionTurn++;
      const turn = progress.sessionTurn;
      ctx.sink.emit("turn_start", { turn });

      const request = buildRequest({ manifest: ctx.manifest, model: ctx.model, tools: apiTools, history: ctx.store.messages(), system: ctx.systemPrompt });
      const response = await askModel(ctx, request, turn);
      if (!response) {
        // A cancelled stream is dropped whole: the history ends before this turn, so resume simply asks again.
        progress.turns--;
        progress.sessionTurn--;
        return done("paused");
      }
      // Store first, then tell: an event on stdout means the state behind it is durable.
      await ctx.store.append(response.message, turn);
      progress.usage = addUsage(progress.usage, response.usage);
      progress.lastContextTokens = contextTokens(response.usage);
      ctx.sink.emit("usage", response.usage);

      const calls = toolUses(response.message);
      const paused = calls.length > 0 ? await runToolCalls(ctx, calls, normalDecision(ask, ctx.signal), turn) : null;
      await ctx.onTurnSaved(progress);
      ctx.sink.emit("turn_end", { turn, stop_reason: response.stopReason });

      if (paused) return done("paused", { pending: paused });
      if (ctx.signal.aborted) return done("paused");
      if (ctx.output) {
        const verdict = ctx.output.afterTurn(response.message, calls.length > 0);
        if (verdict.kind === "accepted") return done("finished", { output: verdict.value });
        if (verdict.kind === "failed") return done("error", { error: verdict.error });
        // No final answer yet: say why in the history and ask again.
        if (verdict.kind === "nudge") await ctx.store.append(textMessage("user", verdict.text), turn);
        continue;
      }
      if (calls.length === 0) return done("finished");
    }
  } catch (err) {
    const error = err instanceof PodError ? err : new PodError("internal", `internal error: ${(err as Error).message}`);
    return done("error", { error });
  }
}

/**
 * Streams one response, asking again with backoff when a transient fault breaks
 * a stream that had already started (before that, the SDK's own retries apply).
 * Returns undefined when the run was cancelled.
 */
async function askModel(ctx: RunContext, request: ReturnType<typeof buildRequest>, turn: number) {
  const { retries, baseMs } = retryPolicy();
  for (let attempt = 1; ; attempt++) {
    try {
      return await streamTurn(ctx.client, request, ctx.sink, ctx.signal);
    } catch (err) {
      if (ctx.signal.aborted) return undefined;
      const transient = isTransient(err);
      if (!shouldRetryTurn(err) || attempt > retries) {
        const why = describeProviderError(err);
        throw transient
          ? new PodError("provider_error", `${why} (after ${attempt} attempts)`, "the pod is paused; `pod resume` asks again", true)
          : new PodError("provider_error", why);
      }
      const delay = baseMs * 2 ** (attempt - 1);
      ctx.sink.emit("turn_retry", { turn, attempt, reason: describeProviderError(err), delay_ms: delay });
      try {
        await sleep(delay, undefined, { signal: ctx.signal });
      } catch {
        return undefined;
      }
    }
  }
}

function retryPolicy(env = process.env) {
  const num = (v: string | undefined, d: number) => (v !== undefined && Number.isFinite(Number(v)) && Number(v) >= 0 ? Number(v) : d);
  return { retries: num(env.POD_STREAM_RETRIES, 2), baseMs: num(env.POD_RETRY_BASE_MS, 1000) };
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
    if (approval?.kind === "deny") return { kind: "answer", result: errorResult(`A person denied this ${call.name} call: ${approval.reason}`) };
    return { kind: "pause" };
  };
}

/**
 * Runs tool calls in order, storing each result as it completes. Returns the call
 * that needs approval (the run pauses there), or null when every call has a result.
 */
async function runToolCalls(ctx: RunContext, calls: readonly ToolUse[], decide: Decide, turn: number): Promise<PendingCall | null> {
  for (const call of calls) {
    const decision = decide(call);
    if (decision.kind === "pause") return { id: call.id, name: call.name, input: asRecord(call.input) };
    const result = decision.kind === "run" ? await executeTool(ctx, call) : decision.result;
    await ctx.store.append(toolResultMessage(call.id, result.output, result.isError), turn);
    ctx.sink.emit("tool_result", {
      id: call.id,
      name: call.name,
      is_error: result.isError,
      output: result.output.length > EVENT_OUTPUT_CAP ? result.output.slice(0, EVENT_OUTPUT_CAP) : result.output,
      truncated: result.truncated || result.output.length > EVENT_OUTPUT_CAP,
    });
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

function asRecord(value: unknown): Record<string, unknown> {
  return value && typeof value === "object" && !Array.isArray(value) ? (value as Record<string, unknown>) : {};
}
