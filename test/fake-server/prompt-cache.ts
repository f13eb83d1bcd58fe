import { createHash } from "node:crypto";

/**
 * A model of Anthropic's prompt (prefix) cache, for the fake Messages API.
 *
 * What is modelled, from the prompt-caching documentation:
 * - The prompt is one sequence of blocks in the order tools, system, messages
 *   (a string system prompt or string message content is one text block).
 * - A `cache_control` on a block is a breakpoint: the prefix up to and including
 *   that block is written to the cache (if it is at least the model's minimum
 *   cacheable length; below it nothing is written and the request still succeeds).
 * - At most 4 breakpoints per request; more is a 400 invalid_request_error.
 * - A read: at each breakpoint the cache is checked at that block boundary, then
 *   at each earlier boundary walking back up to 20 blocks (the documented
 *   lookback window). The longest hit over all breakpoints is read. A boundary
 *   that is not at or within 20 blocks before a breakpoint is never looked up,
 *   even if it was written: that is the "moving breakpoint drifted too far" miss.
 * - Entries live 5 minutes (or 1 hour with `ttl: "1h"`) from their last use;
 *   a read or a re-write refreshes them.
 * - Entries are per model. The `cache_control` marker itself is not part of the
 *   prefix: the same blocks marked differently still match.
 * - Usage, as the API reports it: cache_read_input_tokens = the prefix that hit;
 *   cache_creation_input_tokens = from the hit (or the start) to the last
 *   breakpoint that was written; input_tokens = everything after that (all of
 *   the prompt when nothing is read or written).
 *
 * Not modelled: tokenisation (tokens are ceil(characters / 4) of each block's
 * JSON, deterministic), tool_choice/image invalidation rules, thinking blocks,
 * the short delay before a written entry becomes readable by concurrent requests.
 */

export const MAX_BREAKPOINTS = 4;
export const LOOKBACK_BLOCKS = 20;
const TTL_MS = { "5m": 5 * 60_000, "1h": 60 * 60_000 } as const;

/** Documented minimum cacheable prompt lengths (tokens), by model family. */
export function minCacheableTokens(model: string): number {
  if (/opus-4-[56]|haiku-4-5/.test(model)) return 4096;
  if (/sonnet-4-6|haiku-3/.test(model)) return 2048;
  if (/opus-5/.test(model)) return 512;
  return 1024; // Sonnet 5, Sonnet 4.x, Opus 4/4.1, Sonnet 3.7
}

export interface CacheUsage {
  input_tokens: number;
  cache_read_input_tokens: number;
  cache_creation_input_tokens: number;
}

export type CacheOutcome = { ok: true; usage: CacheUsage } | { ok: false; status: 400; message: string };

export interface PromptCacheOptions {
  /** Clock for TTLs (ms); tests move it to expire entries. */
  now?: () => number;
  /** Overrides the per-model minimum cacheable length. */
  minTokens?: number;
}

interface Block {
  /** Cumulative hash of the prompt up to and including this block. */
  hash: string;
  /** Cumulative token count up to and including this block. */
  tokens: number;
  ttl: keyof typeof TTL_MS | undefined;
}

export class PromptCache {
  private readonly entries = new Map<string, { expires: number; ttlMs: number }>();
  private readonly now: () => number;

  constructor(private readonly opts: PromptCacheOptions = {}) {
    this.now = opts.now ?? Date.now;
  }

  /** Reads and writes the cache for one request body, and says what it costs. */
  process(body: any): CacheOutcome {
    const model = String(body?.model ?? "");
    const blocks = flatten(body);
    const breakpoints = blocks.flatMap((b, i) => (b.ttl ? [i] : []));
    if (breakpoints.length > MAX_BREAKPOINTS) {
      return { ok: false, status: 400, message: `A maximum of ${MAX_BREAKPOINTS} blocks with cache_control may be provided. Found ${breakpoints.length}.` };
    }
    const total = blocks.at(-1)?.tokens ?? 0;
    const now = this.now();
    const key = (i: number) => `${model}\u0000${blocks[i]!.hash}`;
    const live = (i: number) => {
      const e = this.entries.get(key(i));
      return e !== undefined && e.expires > now;
    };

    // Longest hit: at each breakpoint, then up to LOOKBACK_BLOCKS boundaries before it.
    let hit = -1;
    for (const bp of breakpoints) {
      for (let i = bp; i >= 0 && i >= bp - LOOKBACK_BLOCKS; i--) {
        if (live(i)) {
          hit = Math.max(hit, i);
          break;
        }
      }
    }
    if (hit >= 0) {
      const e = this.entries.get(key(hit))!;
      e.expires = now + e.ttlMs;
    }
    const readTokens = hit >= 0 ? blocks[hit]!.tokens : 0;

    // Writes: every breakpoint whose prefix reaches the minimum (re-writing an entry refreshes it).
    const min = this.opts.minTokens ?? minCacheableTokens(model);
    let writtenTo = hit;
    for (const bp of breakpoints) {
      const b = blocks[bp]!;
      if (b.tokens < min) continue;
      const prev = this.entries.get(key(bp));
      // A live 1h entry re-marked with 5m keeps its hour.
      const ttlMs = Math.max(TTL_MS[b.ttl!], prev && prev.expires > now ? prev.ttlMs : 0);
      this.entries.set(key(bp), { expires: now + ttlMs, ttlMs });
      writtenTo = Math.max(writtenTo, bp);
    }
    const cachedTo = writtenTo >= 0 ? blocks[writtenTo]!.tokens : 0;
    return {
      ok: true,
      usage: {
        input_tokens: total - cachedTo,
        cache_read_input_tokens: readTokens,
        cache_creation_input_tokens: cachedTo - readTokens,
      },
    };
  }
}

/** Deterministic token estimate for one block: its JSON without the marker, 4 characters a token. */
function tokensOf(json: string): number {
  return Math.ceil(json.length / 4);
}

/** The prompt as one list of blocks with cumulative hashes and token counts. */
function flatten(body: any): Block[] {
  const out: Block[] = [];
  let hash = createHash("sha256").update("prompt").digest("hex");
  let tokens = 0;
  const add = (section: string, block: any) => {
    const { cache_control, ...rest } = block && typeof block === "object" ? block : { text: String(block) };
    const json = JSON.stringify(rest);
    hash = createHash("sha256").update(hash).update(section).update(json).digest("hex");
    tokens += tokensOf(json);
    const ttl = cache_control && typeof cache_control === "object" ? (cache_control.ttl === "1h" ? "1h" : "5m") : undefined;
    out.push({ hash, tokens, ttl });
  };
  for (const tool of Array.isArray(body?.tools) ? body.tools : []) add("tool", tool);
  const system = body?.system;
  if (typeof system === "string") add("system", { type: "text", text: system });
  else if (Array.isArray(system)) for (const b of system) add("system", b);
  const messages: any[] = Array.isArray(body?.messages) ? body.messages : [];
  messages.forEach((m, i) => {
    // The section names the message and its role: a prefix ends inside message i, so the same
    // blocks split differently across messages are a different prompt.
    const section = `message ${i} ${m?.role}`;
    if (typeof m?.content === "string") add(section, { type: "text", text: m.content });
    else for (const b of Array.isArray(m?.content) ? m.content : []) add(section, b);
  });
  return out;
}
