// Streaming relay: latency from the fake server's first SSE byte to the first event
// line on stdout, and events per second over a long text stream, for pod and for a
// plain SDK client reading the same stream (bench/sdk-client.mjs).
import { spawn } from "node:child_process";
import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { Worker } from "node:worker_threads";
import { fmt, median } from "./lib.mjs";

const DELTAS = 100_000;
const now = () => performance.timeOrigin + performance.now();

async function startServer(script) {
  // The worker runs the TypeScript fake server through tsx, as the bench itself does.
  const worker = new Worker(`require("tsx/cjs/api").register(); require(${JSON.stringify(path.join(import.meta.dirname, "relay-server.mjs"))});`, { eval: true, workerData: { script } });
  const next = () => new Promise((resolve, reject) => (worker.once("message", resolve), worker.once("error", reject)));
  const { url } = await next();
  return {
    url,
    async close() {
      worker.postMessage("close");
      const { firstSseByteAt } = await next();
      await worker.terminate();
      return firstSseByteAt;
    },
  };
}

// Finds text_delta lines in stdout chunks without splitting them into strings: the
// reader's own cost grows with the bytes it reads, and must not decide the result.
const MARK = Buffer.from('"text_delta"');

async function measure(cmd, args, cwd) {
  const text = "word ".repeat(DELTAS);
  const server = await startServer({ turns: [{ response: { content: [{ type: "text", text }] }, delivery: { text_split: 5, chunk_bytes: 4096, ping_every: 0 } }] });
  const child = spawn(process.execPath, [...cmd, ...args], { cwd, env: { ...process.env, ANTHROPIC_API_KEY: "bench-key", ANTHROPIC_BASE_URL: server.url }, stdio: ["ignore", "pipe", "inherit"] });
  let first;
  let last;
  let deltas = 0;
  let carry = Buffer.alloc(0);
  for await (const chunk of child.stdout) {
    const buf = carry.length ? Buffer.concat([carry, chunk]) : chunk;
    let found = 0;
    for (let at = buf.indexOf(MARK); at !== -1; at = buf.indexOf(MARK, at + MARK.length)) found++;
    // A mark split across chunks is found in the next one.
    carry = buf.subarray(Math.max(0, buf.length - MARK.length + 1));
    if (found === 0) continue;
    const t = now();
    first ??= t;
    last = t;
    deltas += found;
  }
  await new Promise((resolve) => (child.exitCode === null ? child.once("exit", resolve) : resolve()));
  const firstSseByteAt = await server.close();
  return { latency: first - firstSseByteAt, perSec: deltas / ((last - firstSseByteAt) / 1000), deltas, total: last - firstSseByteAt };
}

export async function relayBench(pod, { runs = 15 } = {}) {
  const dir = mkdtempSync(path.join(tmpdir(), "pod-bench-relay-"));
  writeFileSync(path.join(dir, "pod.toml"), '[pod]\nname = "relay"\n');
  const client = path.join(import.meta.dirname, "sdk-client.mjs");
  const sdk = [];
  const sdkEnvelope = [];
  const podRuns = [];
  // Interleaved, so a slow spell of the machine hits all three alike.
  for (let i = 0; i < runs; i++) {
    sdk.push(await measure([client], [], dir));
    sdkEnvelope.push(await measure([client], ["--envelope"], dir));
    podRuns.push(await measure([pod], ["run", "go"], dir));
  }
  const m = (list, k) => median(list.map((r) => r[k]));
  const row = (label, list) => [label, fmt(m(list, "latency")), Math.round(m(list, "perSec")).toLocaleString("en-US"), fmt(m(list, "total"))];
  return {
    rows: [row("plain SDK client, `{type, text}` lines (baseline)", sdk), row("plain SDK client, pod's full event lines", sdkEnvelope), row("pod run (JSONL)", podRuns)],
    // Each pod run against the baseline run just before it: neighbours in time share
    // the machine's state, so the median of these ratios is steadier than a ratio of medians.
    overhead: median(podRuns.map((r, i) => r.total / sdk[i].total - 1)),
    overheadSameLines: (m(podRuns, "total") - m(sdkEnvelope, "total")) / m(sdkEnvelope, "total"),
    spread: podRuns.map((r, i) => r.total / sdk[i].total - 1).sort((a, b) => a - b),
    deltas: podRuns[0].deltas,
  };
}
