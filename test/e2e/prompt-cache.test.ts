import { describe, expect, it } from "vitest";
import { minCacheableTokens } from "../fake-server/server.js";
import { cacheReport, MODEL, runCacheSession, type CacheSession } from "../helpers/cache-session.js";

/**
 * Prompt-cache efficiency of the real binary over a 30-turn tool session (a pause and
 * `pod resume --approve` in the middle, compactions), against the fake server's model of
 * Anthropic's prefix cache. Deterministic: token counts, not time.
 */
const total = (r: { input_tokens: number; cache_read_input_tokens: number; cache_creation_input_tokens: number }) =>
  r.input_tokens + r.cache_read_input_tokens + r.cache_creation_input_tokens;

function expectSessionRan(s: CacheSession) {
  expect(s.mismatches).toEqual([]);
  expect(s.runs.map((r) => r.code)).toEqual([10, 0, 0]); // paused for approval, resumed, follow-up
  expect(s.requests.filter((r) => r.kind === "turn")).toHaveLength(30);
  expect(s.requests.filter((r) => r.kind === "compaction").length).toBeGreaterThanOrEqual(1);
  for (const r of s.requests) expect(r.breakpoints).toBeLessThanOrEqual(4);
}

/**
 * What pod controls: every request reads from the cache everything the request before it
 * sent (the previous turn wrote it), except the first request after a compaction, whose
 * history is new and can only read the tools and system prompt, and a request below the
 * model's minimum cacheable length, which the API does not cache.
 */
function expectEachRequestReadsThePrevious(s: CacheSession) {
  s.requests.forEach((r, i) => {
    if (i === 0 || s.requests[i - 1]!.kind === "compaction" || total(s.requests[i - 1]!) < minCacheableTokens(MODEL)) return;
    expect({ request: i + 1, read: r.cache_read_input_tokens }).toEqual({ request: i + 1, read: total(s.requests[i - 1]!) });
  });
}

describe("prompt caching over a 30-turn session", () => {
  it("reads ≥ 90% of input tokens from the cache after the first request, with a system prompt of realistic size", async () => {
    const s = await runCacheSession({ systemPromptFrom: "README.md" });
    expectSessionRan(s);
    expectEachRequestReadsThePrevious(s);
    // After a compaction the tools and system prompt (above the 1,024-token minimum here) are still read.
    s.requests.forEach((r, i) => {
      if (i > 0 && s.requests[i - 1]!.kind === "compaction") expect(r.cache_read_input_tokens).toBeGreaterThan(1024);
    });
    const report = cacheReport(s.requests);
    expect(report.readRatio).toBeGreaterThanOrEqual(0.9);
    expect(report.cost.billed).toBeLessThan(report.cost.noCache / 3);
  }, 120_000);

  it("misses nothing pod could hit with a one-line system prompt either (the tools alone are below the cacheable minimum)", async () => {
    const s = await runCacheSession();
    expectSessionRan(s);
    expectEachRequestReadsThePrevious(s);
    // The parallel-reads turn adds 24 blocks, beyond the 20-block lookback: the next request still reads all of it.
    const report = cacheReport(s.requests);
    expect(report.readRatio).toBeGreaterThan(0.85);
  }, 120_000);
});
