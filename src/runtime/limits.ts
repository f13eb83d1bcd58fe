import { DURATION_EXAMPLES, durationMs } from "../duration.js";
import { PodError } from "../errors.js";
import type { Usage } from "../conversation/usage.js";
import { priceFor, costUsd, type PriceOverrides } from "../conversation/pricing.js";

/** Which limit ended a run (run_end.limit). */
export type Limit = "turns" | "budget" | "time";

/** The limits checked before each request: turns and, with a budget, this run's cost so far. */
export interface RequestLimits {
  maxTurns: number;
  /** USD; the run stops before a request once its cost has reached this. */
  maxCostUsd?: number | undefined;
  /** This run's cost in USD for the usage so far (the model's price, [pricing] applied). */
  costOf: (usage: Usage) => number | null;
}

export function limitBeforeRequest(progress: { turns: number; usage: Usage }, limits: RequestLimits): Limit | undefined {
  if (progress.turns >= limits.maxTurns) return "turns";
  if (limits.maxCostUsd !== undefined && (limits.costOf(progress.usage) ?? 0) >= limits.maxCostUsd) return "budget";
  return undefined;
}

/**
 * A budget needs a price: without one pod could not tell when to stop, so a budget
 * for an unpriced model is refused before the run (usage error, exit 2).
 */
export function requestLimits(opts: { model: string; maxTurns: number; maxCostUsd: number | undefined; pricing: PriceOverrides }): RequestLimits {
  if (opts.maxCostUsd !== undefined && !priceFor(opts.model, opts.pricing)) {
    throw new PodError(
      "invalid_input",
      `a budget of $${opts.maxCostUsd} was set, but pod has no price for model "${opts.model}"`,
      `add its price to pod.toml ([pricing."${opts.model}"] input = <USD per million input tokens>, output = <USD per million output tokens>), or drop the budget`,
    );
  }
  return { maxTurns: opts.maxTurns, maxCostUsd: opts.maxCostUsd, costOf: (u) => costUsd(opts.model, u, opts.pricing) };
}

/** `--timeout` / `[pod] timeout` → milliseconds (src/duration.ts has the one rule for both). */
export function parseDuration(text: string | number, what = "--timeout"): number {
  const ms = durationMs(text);
  if (ms === undefined) {
    throw new PodError("invalid_input", `${what} ${JSON.stringify(text)} is not a duration`, `write it ${DURATION_EXAMPLES}`);
  }
  return ms;
}

/** The abort reason a whole-run time limit uses, so the run can tell it from a cancel. */
export const TIME_LIMIT = Symbol("pod time limit");

/**
 * Aborts `controller` when the run has lasted `ms`; the run then stops exactly as on
 * `pod cancel` (the stream dropped, running tools interrupted, history consistent).
 */
export function startTimeLimit(ms: number | undefined, controller: AbortController): { timedOut(): boolean; clear(): void } {
  if (ms === undefined) return { timedOut: () => false, clear: () => {} };
  const timer = setTimeout(() => controller.abort(TIME_LIMIT), ms);
  timer.unref();
  return { timedOut: () => controller.signal.aborted && controller.signal.reason === TIME_LIMIT, clear: () => clearTimeout(timer) };
}
