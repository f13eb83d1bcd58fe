// Prompt-cache efficiency: the 30-turn session of test/helpers/cache-session.ts (the real
// binary reading this repository's sources; a pause and `pod resume --approve`; compactions)
// against the fake server's model of Anthropic's prefix cache. Token counts, not time, so
// one run is exact. Cost with src/conversation/pricing.ts prices: writes 1.25×, reads 0.1× input.
import { cacheReport, MODEL, runCacheSession } from "../test/helpers/cache-session.ts";

const usd = (x) => `$${x.toFixed(4)}`;
const k = (n) => n.toLocaleString("en-US");

export async function cacheBench() {
  const variants = [
    ["one-line system prompt (stable prefix = tool definitions, ~940 tokens, below the 1,024 minimum)", {}],
    ["system prompt of ~1,400 tokens (README.md, standing in for the built-in prompt + instruction files)", { systemPromptFrom: "README.md" }],
  ];
  const rows = [];
  const details = [];
  const ratios = [];
  for (const [label, opts] of variants) {
    const s = await runCacheSession(opts);
    if (s.mismatches.length) throw new Error(`cache session: ${s.mismatches.join("; ")}`);
    const r = cacheReport(s.requests);
    ratios.push(r.readRatio);
    // Where the tokens that were not read went: each turn's new content written once, the
    // history rewritten after a compaction, and what stays below the minimum.
    const rest = s.requests.slice(1);
    const afterCompaction = rest.filter((_, i) => s.requests[i].kind === "compaction");
    const written = rest.reduce((a, x) => a + x.cache_creation_input_tokens, 0);
    const uncached = rest.reduce((a, x) => a + x.input_tokens, 0);
    const rewritten = afterCompaction.reduce((a, x) => a + x.cache_creation_input_tokens + x.input_tokens, 0);
    rows.push([label, String(r.requests), k(r.inputAfterFirst), k(r.readAfterFirst), `**${(r.readRatio * 100).toFixed(1)}%**`, usd(r.cost.billed), usd(r.cost.noCache), usd(r.cost.ideal)]);
    details.push(`- ${label.split(" (")[0]}: of the ${k(r.inputAfterFirst - r.readAfterFirst)} input tokens not read after the first request, ${k(written)} were cache writes (each turn's new tool output and answer, written once: ${k(written - Math.min(written, rewritten))}; the history after a compaction: ${k(Math.min(written, rewritten))}) and ${k(uncached)} uncached (after the last breakpoint, or below the minimum). Billed ${(r.cost.billed / r.cost.noCache * 100).toFixed(0)}% of the no-cache cost, ${(r.cost.billed / r.cost.ideal).toFixed(2)}× the ideal.`);
  }
  details.push(
    "",
    "Where the cache stood before this bench (one-line system prompt): **84.5%** read. The request after the 12-parallel-Reads turn missed (its only moving breakpoint was 24 blocks past the last write, beyond the 20-block lookback) and wrote 11,000 tokens again; the compaction's summary request sent an 11,406-token transcript uncached. Now each request also marks the end of the previous turn's prompt, where that turn wrote the cache, and the summary request is the run's own request plus an instruction (it reads the whole history from cache). The e2e test checks that every request reads everything the previous request sent (except after a compaction or below the minimum).",
    "",
    "Why the share is not higher: the tokens each turn adds (its tool output and the model's message) are new and must be written once (1.25×) before any request can read them, plus the history re-written after each compaction (the summary and the kept turns are a new prefix). With growing context C_n and new content c per turn, the read share over N turns is about 1 − c·N / Σ C_n, so a larger stable prefix or a longer session raises it; pod's placement leaves nothing else unread.",
  );
  return { rows, details, ratios, model: MODEL };
}
