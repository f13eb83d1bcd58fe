// The retry policy of a turn (docs/reliability.md): what is asked again, how long pod waits
// (backoff, or the server's retry-after, capped: src/provider/retry.ts has the numbers),
// the `turn_retry` and `waiting` lines that make every wait visible, the fallback model,
// and when a turn gives up. Imported by run-loop.ts only.
import { setTimeout as sleep } from "node:timers/promises";
import { PodError } from "../errors.js";
import { classifyProviderError, StreamBrokenError } from "../provider/errors.js";
import { isOverloaded } from "../provider/fallback.js";
import type { buildRequest } from "../provider/request.js";
import { networkPolicy, retryDelayMs, type NetworkPolicy } from "../provider/retry.js";
import type { TurnResponse } from "../provider/stream.js";
import { streamLimits, streamTurn } from "../provider/turn.js";
import { turnRelay } from "./emit.js";
import type { RunContext, RunProgress } from "./run-context.js";
import { awaitTurnSync, type Trailing } from "./turn-sync.js";

type Request = ReturnType<typeof buildRequest>;

/**
 * Streams one response, asking again with backoff (or the server's retry-after, capped)
 * after a transient fault, before or during the stream. Every wait is announced with a
 * `turn_retry` line and kept company by `waiting` lines; the turn gives up once its
 * retries would run past the policy's total time. Returns undefined when cancelled.
 */
export async function askModel(ctx: RunContext, request: Request, turn: number, progress: RunProgress, trailing: Trailing): Promise<TurnResponse | undefined> {
  // Nothing of the response is printed before the previous turn's trailing lines and its fsync.
  const ready = async () => {
    await trailing.flush();
    await awaitTurnSync(ctx.store, turn);
  };
  // TODO(issue 26 item 1): the policy comes from the environment here and in turn.ts; once
  // the environment is read in one place, pass it in through RunContext instead.
  const policy = networkPolicy();
  const limits = streamLimits(turn);
  // The retry window restarts after an attempt that delivered events: it made progress.
  // The messages report the real time since the turn's first attempt.
  const clock = { turnStart: Date.now(), windowStart: Date.now(), attempts: 0 };
  for (let attempt = 1; ; attempt++) {
    const attemptStart = Date.now();
    clock.attempts++;
    const remaining = policy.totalMs - (attemptStart - clock.windowStart);
    // The last attempt of a window may not wait longer than the window has left.
    const firstEventTimeoutMs = attempt > 1 ? Math.max(1000, Math.min(limits.firstEventTimeoutMs, remaining)) : limits.firstEventTimeoutMs;
    try {
      return await streamTurn(ctx.client, request, turnRelay(ctx.sink), ctx.signal, { ...limits, firstEventTimeoutMs }, ready);
    } catch (err) {
      // The session could not be made durable (disk full, I/O error): not a provider fault, never retried.
      if (err instanceof PodError) throw err;
      if (ctx.signal.aborted) return undefined;
      await ready();
      if (err instanceof StreamBrokenError) clock.windowStart = attemptStart;
      const next = afterFailure(ctx, err, attempt, policy, clock, progress);
      if (next.kind === "fallback") {
        request = { ...request, model: next.model };
        attempt = 0;
        clock.windowStart = Date.now();
        continue;
      }
      ctx.sink.emit("turn_retry", { turn, attempt, reason: next.reason, delay_ms: next.delayMs });
      if (!(await waitWithHeartbeat(ctx, next.delayMs, policy.heartbeatMs, turn))) return undefined;
    }
  }
}

type NextAttempt = { kind: "retry"; delayMs: number; reason: string } | { kind: "fallback"; model: string };

/**
 * After a failed attempt: wait and ask again, or, out of retries (count or time), go on
 * with [provider] fallback_model when the model stayed overloaded. Throws the error that
 * ends the turn: a fault that is not transient at once, any other after the last retry
 * (resumable: `pod resume` asks again).
 */
function afterFailure(ctx: RunContext, err: unknown, attempt: number, policy: NetworkPolicy, clock: { turnStart: number; windowStart: number; attempts: number }, progress: RunProgress): NextAttempt {
  const verdict = classifyProviderError(err, ctx.client.baseURL);
  if (!verdict.retry) throw verdict.error;
  const delayMs = retryDelayMs(err, attempt, policy);
  const elapsed = Date.now() - clock.windowStart;
  if (attempt <= policy.maxRetries && elapsed + delayMs < policy.totalMs) return { kind: "retry", delayMs, reason: verdict.message };
  if (ctx.fallbackModel && progress.model !== ctx.fallbackModel && isOverloaded(err)) {
    // Still overloaded after every retry: the rest of the run uses the fallback model.
    ctx.sink.emit("model_fallback", { from: progress.model, to: ctx.fallbackModel, reason: verdict.message });
    progress.model = ctx.fallbackModel;
    return { kind: "fallback", model: ctx.fallbackModel };
  }
  const attempts = clock.attempts;
  throw new PodError("provider_error", `${verdict.message} (after ${attempts} attempt${attempts === 1 ? "" : "s"} in ${elapsedText(Date.now() - clock.turnStart)})`, "the pod is paused; `pod resume` asks again", true);
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
