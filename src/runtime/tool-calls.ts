// A turn's tool calls, each taken the same way (docs/runtime.md): decide (run it, answer it
// without running, or pause for approval), make its intent durable, run it (or let `pod
// replay` answer it), store its result, record it, print it, check the pinned inputs.
// Imported by run-loop.ts only.
import { TIMING, timing } from "../timing.js";
import { toolResultMessage, type ToolUse } from "../conversation/messages.js";
import type { Tool, ToolResult } from "../tools/types.js";
import type { CutCall } from "../provider/stream.js";
import type { PendingCall, ReadProof } from "../store/status.js";
import { FINAL_ANSWER_TOOL } from "./structured-output.js";
import type { Approval, RunContext, RunProgress } from "./run-context.js";

/** What to do with one tool call: run it, answer it without running, or pause for approval. */
export type Decision = { kind: "run" } | { kind: "answer"; result: ToolResult } | { kind: "pause" };
export type Decide = (call: ToolUse) => Decision;

/** Cap on a tool_result event's output; the model still gets the tool's own (capped) output. */
const EVENT_OUTPUT_CAP = 64 * 1024;

const INTERRUPTED =
  "Not run: pod was stopped before this tool call finished (cancelled or crashed). Its effect is unknown; check the current state before retrying.";

const errorResult = (output: string): ToolResult => ({ output, isError: true, truncated: false });

/** A call of this turn: run unless cancelled, paused when its tool is in `[tools] ask`. */
export function normalDecision(ask: ReadonlySet<string>, signal: AbortSignal): Decide {
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
export function settleDecision(pending: PendingCall | null, approval: Approval | undefined, ask: ReadonlySet<string>, signal: AbortSignal): Decide {
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
 * Takes tool calls in order, storing each result as it completes. Returns the call
 * that needs approval (the run pauses there), or null when every call has a result.
 */
export async function runToolCalls(ctx: RunContext, calls: readonly ToolUse[], decide: Decide, turn: number, progress: RunProgress): Promise<PendingCall | null> {
  for (const [i, call] of calls.entries()) {
    const decision = decide(call);
    if (decision.kind === "pause") return pendingCall(ctx, calls, i);
    await takeCall(ctx, call, decision, turn, progress);
  }
  return null;
}

/** One call that is not paused: run (or answered), then stored, recorded and printed, in that order. */
async function takeCall(ctx: RunContext, call: ToolUse, decision: Exclude<Decision, { kind: "pause" }>, turn: number, progress: RunProgress): Promise<void> {
  // Looked up once: whether it can change anything, its schema and its run all come from here.
  const tool = ctx.toolbox?.tools.find((t) => t.name === call.name);
  const runs = decision.kind === "run";
  const mayChange = runs && !changesNothing(ctx, call.name, tool);
  if (mayChange && !ctx.store.isDurable()) {
    // A tool that can change something: its intent (the model's message) is durable before it runs.
    const syncStart = TIMING ? performance.now() : 0;
    await ctx.store.sync();
    if (TIMING) timing({ turn, phase: "sync_before_tool", ms: performance.now() - syncStart });
  }
  const started = TIMING ? performance.timeOrigin + performance.now() : 0;
  const t0 = Date.now();
  const result = decision.kind === "run" ? await execute(ctx, call, tool) : decision.result;
  if (TIMING) timing({ turn, tool: call.name, start: started, end: performance.timeOrigin + performance.now() });
  if (result.denied) progress.denials.push({ id: call.id, tool: call.name, reason: denialReason(result.output) });
  await settleCall(ctx, call, result, turn, { ran: runs, durationMs: Date.now() - t0, timed: true });
  const changed = mayChange ? ctx.verifyContract?.() : undefined;
  if (changed) throw changed;
}

/**
 * Whether a call changes nothing, so the model's message need not be durable before it
 * runs: a tool that says so (Read, Glob, Grep, unless wrapped in hooks) or the structured
 * output's final answer. Any other call (Write, Edit, Bash, every MCP tool, a hooked
 * tool) may have an effect, and its intent (the model's message naming it) is fsynced
 * first, so a power loss never leaves an effect without the call that caused it.
 */
function changesNothing(ctx: RunContext, name: string, tool: Tool | undefined): boolean {
  if (ctx.output && name === FINAL_ANSWER_TOOL) return true;
  return tool?.readOnly === true;
}

/** Runs the call, or lets `pod replay` answer it from the recording (RunContext.runTool). */
function execute(ctx: RunContext, call: ToolUse, tool: Tool | undefined): Promise<ToolResult> {
  const run = () => executeTool(ctx, call, tool);
  return ctx.runTool ? ctx.runTool(call, run) : run();
}

/** Validates the model's input against the tool's schema and runs it. Tool failures are results, not throws. */
async function executeTool(ctx: RunContext, call: ToolUse, tool: Tool | undefined): Promise<ToolResult> {
  if (ctx.output && call.name === FINAL_ANSWER_TOOL) return ctx.output.answer(call);
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

/** Store first, then tell: the result in the session, in the recording, then its tool_result line. */
async function settleCall(ctx: RunContext, call: { id: string; name: string }, result: ToolResult, turn: number, how: { ran: boolean; durationMs: number; timed?: boolean }): Promise<void> {
  const appendStart = TIMING ? performance.now() : 0;
  await ctx.store.append(toolResultMessage(call.id, result.output, result.isError), turn);
  ctx.recordTool?.({ turn, id: call.id, name: call.name, is_error: result.isError, output: result.output, truncated: result.truncated, ...(result.denied ? { denied: true } : {}), ran: how.ran, duration_ms: how.durationMs });
  // POD_TIMING: the bench times the results of calls taken (append_result), not the ones answered unrun.
  if (TIMING && how.timed) timing({ turn, phase: "append_result", ms: performance.now() - appendStart });
  ctx.sink.emit("tool_result", {
    id: call.id,
    name: call.name,
    is_error: result.isError,
    output: result.output.length > EVENT_OUTPUT_CAP ? result.output.slice(0, EVENT_OUTPUT_CAP) : result.output,
    truncated: result.truncated || result.output.length > EVENT_OUTPUT_CAP,
  });
}

/** An error result for a call pod did not run, stored and then printed as its tool_result. */
export function answerNotRun(ctx: RunContext, call: { id: string; name: string }, turn: number, output: string): Promise<void> {
  return settleCall(ctx, call, errorResult(output), turn, { ran: false, durationMs: 0 });
}

/**
 * A tool call the response ended in the middle of: stored with an error result that says
 * why it was not run, and printed as its tool_result, before any other call of the turn.
 */
export function answerCut(ctx: RunContext, call: CutCall, turn: number, stopReason: string): Promise<void> {
  const why =
    stopReason === "max_tokens"
      ? `your response was cut off at the output limit (max_tokens = ${ctx.manifest.data.pod.max_tokens}) while you were writing this ${call.name} call`
      : `this ${call.name} call did not arrive whole (its block never ended)`;
  return answerNotRun(ctx, call, turn, `Not run: ${why}, so its input was incomplete (${call.json.length} characters arrived). Make the call again; if its input is large, split the work into smaller calls (several Edits rather than one Write of a whole file).`);
}

/** The reason run_end gives for a refused call: the first line of what the model was told, capped. */
function denialReason(output: string): string {
  const line = output.split("\n", 1)[0]!.trim();
  return line.length > 500 ? `${line.slice(0, 500)}…` : line;
}

/**
 * The call the run pauses at. The resuming process has a fresh tracker: what the model read
 * for this call and the ones after it goes with it, as content hashes (docs/tools.md, "The tracker").
 */
async function pendingCall(ctx: RunContext, calls: readonly ToolUse[], at: number): Promise<PendingCall> {
  const call = calls[at]!;
  const reads = await takeReads(ctx, calls.slice(at));
  return { id: call.id, name: call.name, input: asRecord(call.input), ...(reads.length > 0 ? { reads } : {}) };
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
export async function adoptReads(ctx: RunContext, reads: readonly ReadProof[]): Promise<void> {
  const adopter = ctx.toolbox?.tools.find((t) => t.readProof)?.readProof;
  if (!adopter) return;
  for (const proof of reads) await adopter.adopt(proof).catch(() => {});
}

function asRecord(value: unknown): Record<string, unknown> {
  return value && typeof value === "object" && !Array.isArray(value) ? (value as Record<string, unknown>) : {};
}
