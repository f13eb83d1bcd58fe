import type { Usage } from "./usage.js";

/**
 * USD per million tokens, from Anthropic's published model pages (checked 2026-11-25).
 * Cache writes (5-minute) cost 1.25× input and cache reads 0.1× input, as documented.
 * A model not listed here has no price: its cost is null, never a guess.
 * Dated ids ("claude-sonnet-4-5-20250929") use the entry their name starts with.
 */
export const PRICES_PER_MTOK: Record<string, { input: number; output: number }> = {
  "claude-opus-5-5": { input: 4, output: 20 },
  "claude-sonnet-5-5": { input: 2, output: 10 },
  "claude-sonnet-5": { input: 2, output: 10 },
  "claude-sonnet-4-6": { input: 3, output: 15 },
  "claude-opus-4-5": { input: 5, output: 25 },
  "claude-opus-4-1": { input: 15, output: 75 },
  "claude-opus-4": { input: 15, output: 75 },
  "claude-sonnet-4-5": { input: 3, output: 15 },
  "claude-sonnet-4": { input: 3, output: 15 },
  "claude-3-7-sonnet": { input: 3, output: 15 },
  "claude-haiku-4-5": { input: 1, output: 5 },
  "claude-3-5-haiku": { input: 0.8, output: 4 },
};

/** A model's price in USD per million tokens; cache prices default to 0.1× / 1.25× input. */
export interface Price {
  input: number;
  output: number;
  cache_read?: number | undefined;
  cache_write?: number | undefined;
}

/** `[pricing."model"]` from the manifest: overrides the table for a listed model, or prices one it lacks. */
export type PriceOverrides = Readonly<Record<string, Price>>;

export function priceFor(model: string, overrides: PriceOverrides = {}): Price | undefined {
  const own = overrides[model];
  if (own) return own;
  const exact = PRICES_PER_MTOK[model];
  if (exact) return exact;
  // Longest matching prefix, so "claude-opus-4-1-…" is not priced as "claude-opus-4".
  const key = Object.keys(PRICES_PER_MTOK)
    .filter((k) => model.startsWith(`${k}-`))
    .sort((a, b) => b.length - a.length)[0];
  return key ? PRICES_PER_MTOK[key] : undefined;
}

/** Estimated cost in USD, rounded to 1/10000 of a dollar; null for a model without a price. */
export function costUsd(model: string, usage: Usage, overrides: PriceOverrides = {}): number | null {
  const p = priceFor(model, overrides);
  if (!p) return null;
  const dollars =
    (usage.input_tokens * p.input +
      usage.output_tokens * p.output +
      usage.cache_creation_input_tokens * (p.cache_write ?? p.input * 1.25) +
      usage.cache_read_input_tokens * (p.cache_read ?? p.input * 0.1)) /
    1_000_000;
  return Math.round(dollars * 10_000) / 10_000;
}

/** Adds costs where an unknown price anywhere makes the total unknown. */
export function addCost(a: number | null, b: number | null): number | null {
  return a === null || b === null ? null : Math.round((a + b) * 10_000) / 10_000;
}

/** Context windows (tokens) of the models above that differ from the 200k default. */
const CONTEXT_WINDOWS: Record<string, number> = {
  "claude-opus-5-5": 1_000_000,
  "claude-sonnet-5-5": 1_000_000,
  "claude-sonnet-5": 1_000_000,
  "claude-sonnet-4-6": 1_000_000,
};

/** The model's context window; `override` (POD_CONTEXT_WINDOW, src/env-config.ts) replaces it. */
export function contextWindowFor(model: string, override?: number): number {
  if (override !== undefined && Number.isFinite(override) && override > 0) return override;
  return CONTEXT_WINDOWS[model] ?? 200_000;
}
