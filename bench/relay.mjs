// Streaming relay: latency from the fake server's first SSE byte to the first event
// line on stdout, and events per second over a long text stream, for pod and for a
// plain SDK client reading the same stream (bench/sdk-client.mjs).
import { spawn } from "node:child_process";
import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { createInterface } from "node:readline";
import { startFakeServer } from "../test/fake-server/server.ts";
import { fmt, median } from "./lib.mjs";

const DELTAS = 20_000;
const now = () => performance.timeOrigin + performance.now();

async function measure(cmd, args, cwd) {
  const text = "word ".repeat(DELTAS);
  const server = await startFakeServer({ turns: [{ response: { content: [{ type: "text", text }] }, delivery: { text_split: 5, chunk_bytes: 4096, ping_every: 0 } }] });
  const child = spawn(process.execPath, [...cmd, ...args], { cwd, env: { ...process.env, ANTHROPIC_API_KEY: "bench-key", ANTHROPIC_BASE_URL: server.url }, stdio: ["ignore", "pipe", "inherit"] });
  let first;
  let last;
  let deltas = 0;
  for await (const line of createInterface({ input: child.stdout })) {
    if (!line.includes('"text_delta"')) continue;
    const t = now();
    first ??= t;
    last = t;
    deltas++;
  }
  await server.close();
  return { latency: first - server.timings.firstSseByteAt, perSec: (deltas - 1) / ((last - first) / 1000), deltas, total: last - server.timings.firstSseByteAt };
}

export async function relayBench(pod) {
  const dir = mkdtempSync(path.join(tmpdir(), "pod-bench-relay-"));
  writeFileSync(path.join(dir, "pod.toml"), '[pod]\nname = "relay"\n');
  const sdk = [];
  const podRuns = [];
  for (let i = 0; i < 5; i++) {
    sdk.push(await measure([path.join(import.meta.dirname, "sdk-client.mjs")], [], dir));
    podRuns.push(await measure([pod], ["run", "go"], dir));
  }
  const m = (runs, k) => median(runs.map((r) => r[k]));
  const overhead = (m(podRuns, "total") - m(sdk, "total")) / m(sdk, "total");
  return {
    rows: [
      ["plain SDK client", fmt(m(sdk, "latency")), Math.round(m(sdk, "perSec")).toLocaleString("en-US"), fmt(m(sdk, "total"))],
      ["pod run (JSONL)", fmt(m(podRuns, "latency")), Math.round(m(podRuns, "perSec")).toLocaleString("en-US"), fmt(m(podRuns, "total"))],
    ],
    overhead,
    deltas: podRuns[0].deltas,
  };
}
