import { cp, readFile, writeFile } from "node:fs/promises";
import path from "node:path";
import { priceFor } from "../../src/conversation/pricing.js";
import { startFakeServer, type FakeServer } from "../fake-server/server.js";
import { makeProject, manifest, podEnv, REPO_ROOT, runPod, type PodResult } from "./pod-process.js";

/**
 * A 30-turn tool session of the real pod binary against the fake server's prompt-cache
 * model, shared by test/e2e/prompt-cache.test.ts and bench/cache.mjs.
 *
 * The project is a copy of this repository's src/ and the model reads its files as an
 * agent reviewing it would: one Read a turn (files of 1–12 KB), a Glob now and then,
 * and one turn of 12 parallel Reads (so one turn adds 24 blocks, more than the API's
 * 20-block lookback). Three processes share the session and the server's cache:
 *   pod run     turns 1–10; turn 10 writes a notes file, a tool that asks for approval,
 *               so the run pauses (exit 10)
 *   pod resume --approve  runs the Write, then turns 11–20, ends with an answer; the context is above the compaction
 *               threshold, so the session is compacted (one more request)
 *   pod run     turns 21–30, a follow-up task on the compacted session, compacted again
 */
export const MODEL = "claude-sonnet-5-5";
export const TURNS = 30;

export interface SessionRequest {
  /** "turn" for an agent turn (streamed), "compaction" for the summary request. */
  kind: "turn" | "compaction";
  input_tokens: number;
  cache_read_input_tokens: number;
  cache_creation_input_tokens: number;
  output_tokens: number;
  breakpoints: number;
}

export interface CacheSession {
  requests: SessionRequest[];
  runs: PodResult[];
  mismatches: string[];
}

const PARALLEL_TURN = 6;

async function sourceFiles(): Promise<string[]> {
  const { readdir } = await import("node:fs/promises");
  const entries = await readdir(path.join(REPO_ROOT, "src"), { recursive: true, withFileTypes: true });
  return entries
    .filter((e) => e.isFile() && e.name.endsWith(".ts") && !e.name.endsWith(".wasm.ts"))
    .map((e) => path.relative(REPO_ROOT, path.join(e.parentPath, e.name)))
    .sort();
}

function script(files: string[]) {
  let next = 0;
  const file = () => files[next++ % files.length]!;
  const turns: object[] = [];
  const answer = (t: string) => ({ response: { content: [{ type: "text", text: t }], stop_reason: "end_turn", usage: { output_tokens: 120 } } });
  for (let t = 1; t <= TURNS; t++) {
    if (t === 20 || t === TURNS) {
      turns.push(answer(`Review part ${t === 20 ? 1 : 2} done: the run loop stores before it tells, the store appends one fsynced line per message.`));
      // Compactions after runs 2 and 3 (both end above the threshold).
      turns.push(answer(`SUMMARY: reviewed src/ file by file up to turn ${t}; no defects found yet.`));
      continue;
    }
    let content: object[];
    if (t === PARALLEL_TURN) {
      content = [{ type: "text", text: "Reading the store and tools modules together." }, ...Array.from({ length: 12 }, (_, k) => ({ type: "tool_use", id: `toolu_${t}_${k}`, name: "Read", input: { path: file() } }))];
    } else if (t === 10) {
      content = [{ type: "text", text: "Writing down what I found so far." }, { type: "tool_use", id: `toolu_${t}`, name: "Write", input: { path: "NOTES.md", content: "# Review notes\n\n- run loop: stores before it tells\n" } }];
    } else if (t % 5 === 3) {
      content = [{ type: "text", text: "Listing the sources." }, { type: "tool_use", id: `toolu_${t}`, name: "Glob", input: { pattern: "src/**/*.ts" } }];
    } else {
      const f = file();
      content = [{ type: "text", text: `Next, ${f}.` }, { type: "tool_use", id: `toolu_${t}`, name: "Read", input: { path: f } }];
    }
    turns.push({ response: { content, stop_reason: "tool_use", usage: { output_tokens: 80 } }, delivery: { chunk_bytes: 4096, ping_every: 0, text_split: 256 } });
  }
  return { turns };
}

function countBreakpoints(body: any): number {
  const blocks = [
    ...(body?.tools ?? []),
    ...(Array.isArray(body?.system) ? body.system : []),
    ...(body?.messages ?? []).flatMap((m: any) => (Array.isArray(m.content) ? m.content : [])),
  ];
  return blocks.filter((b: any) => b?.cache_control).length;
}

export interface CacheSessionOptions {
  env?: Record<string, string | undefined>;
  /**
   * A file of this repository to use as the system prompt (system_prompt_file), standing
   * in for pod's built-in prompt plus the project's instruction files; without it the
   * system prompt is one line and the stable prefix is the tool definitions alone.
   */
  systemPromptFrom?: string;
}

export async function runCacheSession(opts: CacheSessionOptions = {}): Promise<CacheSession> {
  const files = await sourceFiles();
  const server: FakeServer = await startFakeServer(script(files), { promptCache: true });
  try {
    const dir = await makeProject(manifest({ maxTurns: 12, extra: '\n[tools]\nask = ["Write"]\n\n[compaction]\nthreshold_tokens = 15000\nkeep_recent_turns = 4\n' }).replace("claude-sonnet-5-5", MODEL));
    await cp(path.join(REPO_ROOT, "src"), path.join(dir, "src"), { recursive: true });
    if (opts.systemPromptFrom) {
      await cp(path.join(REPO_ROOT, opts.systemPromptFrom), path.join(dir, "SYSTEM.md"));
      const file = path.join(dir, "pod.toml");
      await writeFile(file, (await readFile(file, "utf8")).replace(/^system_prompt = .*$/m, 'system_prompt_file = "SYSTEM.md"'));
    }
    const env = podEnv(server.url, opts.env);
    const runs = [
      await runPod(["run", "Review this project's sources file by file and report defects."], { cwd: dir, env }),
      await runPod(["resume", "--approve"], { cwd: dir, env }),
      await runPod(["run", "Now review the remaining files the same way."], { cwd: dir, env }),
    ];
    const requests = server.requests
      .filter((r) => r.path === "/v1/messages" && r.usage)
      .map((r) => ({ kind: r.body?.stream ? "turn" : "compaction", ...r.usage!, breakpoints: countBreakpoints(r.body) }) as SessionRequest);
    return { requests, runs, mismatches: [...server.mismatches] };
  } finally {
    await server.close();
  }
}

export interface CacheReport {
  requests: number;
  /** Input tokens of every request after the first (uncached + cache reads + cache writes). */
  inputAfterFirst: number;
  readAfterFirst: number;
  /** cache reads / input tokens, requests after the first. */
  readRatio: number;
  cost: { billed: number; noCache: number; ideal: number };
}

/** Token totals and billed cost (src/conversation/pricing.ts prices: writes 1.25×, reads 0.1× input). */
export function cacheReport(requests: readonly SessionRequest[], model = MODEL): CacheReport {
  const p = priceFor(model)!;
  const all = (r: SessionRequest) => r.input_tokens + r.cache_read_input_tokens + r.cache_creation_input_tokens;
  const billed = (r: SessionRequest) => (r.input_tokens * p.input + r.cache_creation_input_tokens * p.input * 1.25 + r.cache_read_input_tokens * p.input * 0.1 + r.output_tokens * p.output) / 1e6;
  const noCache = (r: SessionRequest) => (all(r) * p.input + r.output_tokens * p.output) / 1e6;
  const ideal = (r: SessionRequest, i: number) => (i === 0 ? billed(r) : (all(r) * p.input * 0.1 + r.output_tokens * p.output) / 1e6);
  const rest = requests.slice(1);
  const inputAfterFirst = rest.reduce((s, r) => s + all(r), 0);
  const readAfterFirst = rest.reduce((s, r) => s + r.cache_read_input_tokens, 0);
  const sum = (f: (r: SessionRequest, i: number) => number) => requests.reduce((s, r, i) => s + f(r, i), 0);
  return { requests: requests.length, inputAfterFirst, readAfterFirst, readRatio: readAfterFirst / inputAfterFirst, cost: { billed: sum(billed), noCache: sum(noCache), ideal: sum(ideal) } };
}
