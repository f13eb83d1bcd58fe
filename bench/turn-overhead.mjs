// Per-turn overhead: pod's own time between the end of a model response and the next
// request, tool time excluded, measured from the outside. The fake server stamps when it
// finished writing each response (message_stop sent) and when the next request arrived;
// pod, with POD_TIMING=1, writes each tool call's start and end to stderr. Overhead =
// (next request received − response sent) − tool time. fsync stays on (pod always syncs).
import { spawn } from "node:child_process";
import { existsSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { once } from "node:events";
import { tmpdir } from "node:os";
import path from "node:path";
import { Worker } from "node:worker_threads";
import { freshStatus, writeStatus } from "../src/store/status.ts";
import { median } from "./lib.mjs";
import { makeSession } from "./store.mjs";

const FAST = { chunk_bytes: 65536, ping_every: 0, text_split: 4096 };
const quantile = (xs, q) => {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.floor(q * s.length))];
};

function script(turns) {
  const t = [];
  for (let i = 1; i < turns; i++) {
    t.push({ response: { content: [{ type: "text", text: `Step ${i}: checking the note again.` }, { type: "tool_use", id: `toolu_${i}`, name: "Read", input: { path: "note.txt" } }], stop_reason: "tool_use", usage: { output_tokens: 40 } }, delivery: FAST });
  }
  t.push({ response: { content: [{ type: "text", text: "Done." }], stop_reason: "end_turn" }, delivery: FAST });
  return { turns: t };
}

async function runPod(pod, args, cwd, env) {
  // POD_BENCH_NODE_ARGS="--cpu-prof --cpu-prof-dir=DIR": profile pod during the bench (node refuses --cpu-prof in NODE_OPTIONS).
  const nodeArgs = (process.env.POD_BENCH_NODE_ARGS ?? "").split(" ").filter(Boolean);
  const child = spawn(process.execPath, [...nodeArgs, pod, ...args], { cwd, env, stdio: ["ignore", "pipe", "pipe"] });
  let stderr = "";
  child.stdout.resume();
  child.stderr.setEncoding("utf8").on("data", (d) => (stderr += d));
  const [code] = await once(child, "close");
  if (code !== 0) throw new Error(`pod ${args.join(" ")} exited ${code}: ${stderr}`);
  return stderr;
}

/** Overheads (ms) between consecutive requests of one process, index = turn of that process − 1. */
export async function measure(pod, dir, turns, extraEnv = {}) {
  const server = await startServerThread(script(turns));
  try {
    const env = { ...process.env, ANTHROPIC_API_KEY: "bench-key", ANTHROPIC_BASE_URL: server.url, POD_TIMING: "1", ...extraEnv };
    const stderr = await runPod(pod, ["run", "Check the note repeatedly."], dir, env);
    await server.close();
    if (server.mismatches.length) throw new Error(server.mismatches.join("; "));
    const lines = stderr.split("\n").filter((l) => l.startsWith("pod-timing ")).map((l) => JSON.parse(l.slice(11)));
    const tools = lines.filter((t) => t.tool);
    const phases = {};
    for (const t of lines.filter((x) => x.phase)) (phases[t.phase] ??= []).push(t.ms);
    const reqs = server.requests.filter((r) => r.path === "/v1/messages");
    const out = [];
    const toolMs = [];
    for (let i = 0; i + 1 < reqs.length; i++) {
      const from = reqs[i].respondedAt;
      const to = reqs[i + 1].receivedAt;
      const tool = tools.filter((t) => t.start >= from && t.end <= to).reduce((a, t) => a + (t.end - t.start), 0);
      toolMs.push(tool);
      out.push(to - from - tool);
    }
    return { overhead: out, toolMs, phases };
  } finally {
    await server.close();
  }
}

/** The fake server on its own thread (turn-server.mjs); close() brings back its request stamps. */
async function startServerThread(scriptData) {
  const worker = new Worker(`require("tsx/cjs/api").register(); require(${JSON.stringify(path.join(import.meta.dirname, "turn-server.mjs"))});`, { eval: true, workerData: { script: scriptData } });
  const [{ url }] = await once(worker, "message");
  const server = { url, requests: [], mismatches: [], closed: false };
  server.close = async () => {
    if (server.closed) return;
    server.closed = true;
    worker.postMessage("close");
    const [done] = await once(worker, "message");
    Object.assign(server, done);
    await worker.terminate();
  };
  return server;
}

export function project(name) {
  const dir = mkdtempSync(path.join(tmpdir(), `pod-bench-turn-${name}-`));
  writeFileSync(path.join(dir, "pod.toml"), `[pod]\nname = "${name}"\nmax_turns = 1000\n\n[scope]\nroot = "."\ndeny = [".pod/**"]\n`);
  writeFileSync(path.join(dir, "note.txt"), "remember to check the note\n".repeat(20));
  return dir;
}

const fmt = (x) => x.toFixed(2);

export async function turnOverheadBench(pod, { turns = 200 } = {}) {
  const rows = [];
  const long = await measure(pod, project("long"), turns);
  const o = long.overhead;
  const span = (a, b) => o.slice(a - 1, b);
  rows.push([`${turns}-turn run, all turns`, fmt(median(o)), fmt(quantile(o, 0.99)), fmt(median(long.toolMs))]);
  const phaseRows = Object.entries(long.phases).map(([k, v]) => [k, fmt(median(v)), fmt(quantile(v, 0.99))]);
  for (const [a, b] of [[1, 20], [91, 110], [turns - 19, turns - 1]]) rows.push([`  turns ${a}–${b}`, fmt(median(span(a, b))), fmt(quantile(span(a, b), 0.99)), fmt(median(long.toolMs.slice(a - 1, b)))]);

  // The same run with the runtime dir on tmpfs, where fsync costs ~nothing: the difference is the fsyncs.
  if (existsSync("/dev/shm")) {
    const shm = mkdtempSync("/dev/shm/pod-bench-turn-");
    const r = await measure(pod, project("shm"), turns, { POD_RUNTIME_DIR: shm });
    rows.push([`${turns}-turn run, runtime dir on tmpfs (fsync ~free)`, fmt(median(r.overhead)), fmt(quantile(r.overhead, 0.99)), fmt(median(r.toolMs))]);
    for (const [k, v] of Object.entries(r.phases)) phaseRows.find((p) => p[0] === k)?.push(fmt(median(v)));
    rmSync(shm, { recursive: true, force: true });
  }

  // A pod whose session already holds many messages (each tool result 2 KB), then 20 more turns.
  for (const n of [2000, 10_000]) {
    const dir = project(`pre${n}`);
    const podDir = path.join(dir, `.pod/pre${n}`);
    mkdirSync(podDir, { recursive: true });
    const id = await makeSession(path.join(podDir, "sessions"), n);
    await writeStatus(path.join(podDir, "status.json"), { ...freshStatus(`pre${n}`, id), turn: n / 2 });
    const r = await measure(pod, dir, 21);
    rows.push([`20 turns on a session of ${n.toLocaleString("en-US")} messages`, fmt(median(r.overhead)), fmt(quantile(r.overhead, 0.99)), fmt(median(r.toolMs))]);
  }
  return { rows, phaseRows, median: median(o), p99: quantile(o, 0.99), early: median(span(1, 20)), late: median(span(turns - 19, turns - 1)) };
}

/**
 * What bounds the overhead, from cpu profiles (node --cpu-prof on the built binary) and the
 * POD_TIMING steps, taken 2026-11-26 on this shared 2-core machine at a load average of ~17.
 * Kept as text: a profile is read, not recomputed on every bench run.
 */
export const TURN_OVERHEAD_NOTES = [
  "Not met (median ≤ 5 ms). What bounds it, measured:",
  "",
  "- **fsync.** A turn makes four fsyncs, each required by the crash-safety contract (store before tell): the model's message appended to the session (1), the tool result appended (1), status.json replaced atomically (the temp file and the directory: 2). On this machine under load one append+fsync takes a median 8 ms (50 trials on /tmp). The steps above show it: on disk append_response + append_result + save_status ≈ 43 ms of the 69 ms median; with the runtime dir on tmpfs, where fsync is nearly free, the same steps take ~7 ms and the median falls to ~30 ms.",
  "- **The rest (~22 ms on tmpfs under this load)** is the SDK building and sending the request and pod's event lines: cpu profile of the 200-turn run on tmpfs (14.7 s of samples, 7.8 s idle): garbage collection 1.16 s, the socket writes of the requests 0.56 s, the SDK's createMessage 0.55 s, the session appends' writeFile 0.42 s, module loading 0.80 s (once per process). pod's own request building (build_request: toApiMessages + breakpoints) is 0.3 ms a turn.",
  "- **Growth with session length.** Within the 200-turn run the overhead does not grow (turns 1–20 are the slowest: JIT warm-up). On pre-existing sessions it grows with the history, because every request carries the whole history (the API is stateless): with 2,000 messages the body is 2.5 MB, and the profile of 20 turns shows undici's body handling 1.38 s (extractBody/byteLength, TextEncoder.encode, web-stream copies in cloneAsUint8Array), the SDK's JSON.stringify of the body 0.52 s and GC 0.60 s: ~125 ms of CPU a turn, against 2.9 ms for pod's own history handling (build_request). A 10,000-message session (12 MB, ~3M tokens) is beyond any context window; compaction keeps real sessions under ~0.8 × the window.",
  "- Tried and dropped: handing undici the body as bytes (one Buffer.from) to skip its string path: no gain, undici copies bytes through the same web stream and Buffer.from took the time instead.",
  "- What would meet the target: fewer fsyncs per turn (status.json's per-turn progress derivable from the session file instead of an fsynced replace each turn: −18 ms median here) and a request path that writes a pre-serialised body straight to the socket (e.g. the previous turn's serialised messages reused, sent with node:http). Both change the crash-safety contract or the provider client, so they are left for a decision.",
];
