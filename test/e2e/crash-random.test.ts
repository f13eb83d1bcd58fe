import { describe, expect, it } from "vitest";
import { crashTrial, inParallel, type Trial } from "../helpers/crash-trial.js";

/**
 * Seeded random kill -9 points (reproducible: the seed is in the test name).
 * CI runs POD_CRASH_TRIALS (default 24); run 200+ locally with
 *   POD_CRASH_TRIALS=200 POD_CRASH_SEED=7 npx vitest run test/e2e/crash-random.test.ts
 */
const TRIALS = Number(process.env.POD_CRASH_TRIALS ?? 24);
const SEED = Number(process.env.POD_CRASH_SEED ?? 20261125);

/** mulberry32: a tiny seeded PRNG, so a failing seed can be replayed exactly. */
function rng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

describe("randomized kill -9", () => {
  it(`survives ${TRIALS} seeded random kills (seed ${SEED})`, async () => {
    const next = rng(SEED);
    const trials: Trial[] = Array.from({ length: TRIALS }, () =>
      next() < 0.5 ? { killAfterLines: 1 + Math.floor(next() * 75) } : { killAfterMs: 20 + Math.floor(next() * 500) },
    );
    expect(trials).toHaveLength(TRIALS);
    await inParallel(trials, 4, crashTrial);
  }, 900_000);
});
