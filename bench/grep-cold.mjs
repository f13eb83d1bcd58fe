// Grep as a fresh `pod run` sees it (issue 28): the built binary (dist/pod.cjs) is
// driven by the fake Messages API, each of the model's turns one Grep call, and each
// call is timed as the agent sees it: from its `tool_call_done` line to its
// `tool_result` line on pod's stdout. ripgrep's whole process is timed in the same
// loop, while pod waits for its next model turn, so the two never share the cores.
//
// Two shapes of run, both from a fresh process:
// - fresh: one run per pattern, the same pattern five times (calls 1-5): the first
//   call, and the median of the five;
// - interleaved: one run cycling through every pattern five times (the first 5 x 8
//   calls of a run, a different pattern at each call).
//
// The model's latency is modelled, since it is when pod can do work of its own: the
// first request is answered after FIRST_LATENCY_MS, each later one after rg has run
// and THINK_MS more. Both are far below a real model's (seconds).
import { spawn, spawnSync } from "node:child_process";
import { mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import http from "node:http";
import { loadavg, tmpdir } from "node:os";
import path from "node:path";
import { setTimeout as sleep } from "node:timers/promises";
import { startFakeServer } from "../test/fake-server/server.ts";
import { median } from "./lib.mjs";

export const FIRST_LATENCY_MS = Number(process.env.POD_BENCH_FIRST_LATENCY_MS ?? 500);
export const THINK_MS = Number(process.env.POD_BENCH_THINK_MS ?? 200);
const FAST = { chunk_bytes: 65536, ping_every: 0, text_split: 4096 };

const inputOf = (p) => ({ pattern: p.pattern, ...(p.ci ? { case_insensitive: true } : {}), ...(p.count ? { output_mode: "count" } : {}) });

function script(calls) {
  const turns = calls.map((p, i) => ({ response: { content: [{ type: "tool_use", id: `toolu_${i + 1}`, name: "Grep", input: inputOf(p) }], stop_reason: "tool_use" }, delivery: FAST }));
  turns.push({ response: { content: [{ type: "text", text: "Done." }], stop_reason: "end_turn" }, delivery: FAST });
  return { turns };
}

/** rg as the bench runs it everywhere: the files (or per-file counts) under `root`, sorted. */
export function rgArgs(p) {
  return [p.count ? "-c" : "-l", "--hidden", "--no-messages", "--no-ignore-parent", ...(p.ci ? ["-i"] : []), "-e", p.pattern, "."];
}
function runRg(root, p) {
  const t = performance.now();
  const r = spawnSync("rg", rgArgs(p), { cwd: root, encoding: "utf8", maxBuffer: 1 << 28 });
  const ms = performance.now() - t;
  if (r.status !== 0 && r.status !== 1) throw new Error(`rg failed: ${r.stderr}`);
  // In pod's order: by path (a "path:count" line sorts by its path, not its whole text).
  const pathOf = (l) => (p.count ? l.slice(0, l.lastIndexOf(":")) : l);
  const lines = r.stdout.split("\n").filter(Boolean).map((l) => l.replace(/^\.\//, ""));
  return { ms, lines: lines.sort((a, b) => (pathOf(a) < pathOf(b) ? -1 : pathOf(a) > pathOf(b) ? 1 : 0)) };
}

/**
 * CPU time of every thread of a process, from /proc/PID/task/TID/schedstat (ns): time
 * run on a CPU, and time spent runnable but waiting for one (the machine's load, as
 * this process felt it). Linux only; zeros elsewhere.
 */
function threadTimes(pid) {
  let run = 0;
  let wait = 0;
  const byThread = {};
  try {
    for (const tid of readdirSync(`/proc/${pid}/task`)) {
      try {
        const [r, w] = readFileSync(`/proc/${pid}/task/${tid}/schedstat`, "utf8").split(" ").map(Number);
        run += r;
        wait += w;
        if (process.env.POD_BENCH_THREADS) byThread[`${tid}:${readFileSync(`/proc/${pid}/task/${tid}/comm`, "utf8").trim()}`] = r;
      } catch {
        // the thread ended
      }
    }
  } catch {
    // not Linux, or the process ended
  }
  return { run, wait, byThread };
}

/**
 * The fake server behind a gate: each model request waits for `onRequest(k)` (k from 1)
 * before the fake server sees it. The gate runs rg and the model's latency.
 */
export async function gatedServer(scriptData, onRequest) {
  const fake = await startFakeServer(scriptData);
  let k = 0;
  const front = http.createServer((req, res) => {
    const chunks = [];
    req.on("data", (c) => chunks.push(c));
    req.on("end", async () => {
      if (req.method === "POST" && req.url.split("?")[0] === "/v1/messages") await onRequest(++k);
      const up = http.request(`${fake.url}${req.url}`, { method: req.method, headers: req.headers }, (r) => {
        res.writeHead(r.statusCode, r.headers);
        r.pipe(res);
      });
      up.end(Buffer.concat(chunks));
    });
  });
  await new Promise((resolve) => front.listen(0, "127.0.0.1", resolve));
  return {
    url: `http://127.0.0.1:${front.address().port}`,
    fake,
    close: async () => {
      front.closeAllConnections();
      await new Promise((resolve) => front.close(resolve));
      await fake.close();
    },
  };
}

/**
 * One `pod run` whose model makes `calls` (patterns) one Grep at a time over `root`.
 * Returns, per call, pod's time (tool_call_done to tool_result, as read on its stdout),
 * pod's own tool time (POD_TIMING), rg's time, and whether the shown results are rg's.
 */
export async function podRun(pod, rootArg, calls, { firstLatencyMs = FIRST_LATENCY_MS, thinkMs = THINK_MS, nodeArgs = [], wrap = [], env: extraEnv = {}, trace } = {}) {
  const root = path.resolve(rootArg);
  const dir = mkdtempSync(path.join(tmpdir(), "pod-bench-grep-cold-"));
  writeFileSync(path.join(dir, "pod.toml"), `[pod]\nname = "grep-cold"\nmax_turns = 1000\n\n[scope]\nroot = ${JSON.stringify(root)}\n`);
  const rg = [];
  // Resolved as each tool_result line is read: rg runs only once its call's time is taken
  // (pod may send its next request before the bench has read that line).
  const results = [];
  const resultRead = (i) => {
    if (!results[i]) {
      let resolve;
      const promise = new Promise((r) => (resolve = r));
      results[i] = { promise, resolve };
    }
    return results[i];
  };
  const server = await gatedServer(script(calls), async (k) => {
    if (k === 1) return sleep(firstLatencyMs);
    // Request k carries the result of call k - 1: pod is idle until this gate opens.
    await resultRead(k - 2).promise;
    const r = runRg(root, calls[k - 2]);
    rg.push(r);
    await sleep(thinkMs);
  });
  const started = new Map();
  const pods = [];
  const cpus = [];
  const outputs = [];
  let stderr = "";
  try {
    // wrap: a command to run pod under (a profiler: perf record -e cpu-clock ... --).
    // From the tree's root, as a CI job runs pod from its checkout (rg runs there too);
    // the manifest and the runtime dir stay outside the tree.
    const argv = [...wrap, process.execPath, ...nodeArgs, pod, "run", "--manifest", path.join(dir, "pod.toml"), "Search the tree."];
    const child = spawn(argv[0], argv.slice(1), {
      cwd: root,
      env: { ...process.env, POD_RUNTIME_DIR: "", ANTHROPIC_API_KEY: "bench-key", ANTHROPIC_BASE_URL: server.url, POD_TIMING: "1", NO_COLOR: "1", ...extraEnv },
      stdio: ["ignore", "pipe", "pipe"],
    });
    child.stderr.setEncoding("utf8").on("data", (d) => (stderr += d));
    let rest = "";
    child.stdout.setEncoding("utf8").on("data", (d) => {
      const at = performance.now();
      const lines = (rest + d).split("\n");
      rest = lines.pop();
      for (const line of lines) {
        const e = JSON.parse(line);
        if (e.type === "error") stderr += `${line}\n`;
        trace?.push({ at: performance.timeOrigin + at, type: e.type, id: e.id });
        if (e.type === "tool_call_done") started.set(e.id, { at, cpu: threadTimes(child.pid) });
        else if (e.type === "tool_result") {
          const from = started.get(e.id);
          const cpu = threadTimes(child.pid);
          pods.push(at - from.at);
          const threads = Object.fromEntries(Object.entries(cpu.byThread).map(([k, v]) => [k, (v - (from.cpu.byThread[k] ?? 0)) / 1e6]).filter(([, v]) => v >= 1));
          cpus.push({ run: (cpu.run - from.cpu.run) / 1e6, wait: (cpu.wait - from.cpu.wait) / 1e6, threads });
          outputs.push(e);
          resultRead(pods.length - 1).resolve();
        }
      }
    });
    const code = await new Promise((resolve) => child.on("close", resolve));
    if (code !== 0) throw new Error(`pod run exited ${code}: ${stderr.slice(-2000)}`);
  } finally {
    await server.close();
    rmSync(dir, { recursive: true, force: true });
  }
  if (server.fake.mismatches.length) throw new Error(server.fake.mismatches.join("; "));
  const stamps = stderr.split("\n").filter((l) => l.startsWith("pod-timing ")).map((l) => JSON.parse(l.slice(11)));
  trace?.push(...stamps.map((t) => ({ stamp: t })));
  const timed = stamps.filter((t) => t.tool === "Grep");
  // The last call's rg runs here: its request (the final turn's) came after the run's last tool_result.
  while (rg.length < calls.length) rg.push(runRg(root, calls[rg.length]));
  return calls.map((p, i) => ({ pattern: p, pod: pods[i], tool: timed[i] ? timed[i].end - timed[i].start : undefined, cpu: cpus[i].run, waitedForCpu: cpus[i].wait, threads: cpus[i].threads, rg: rg[i].ms, same: sameAsRg(outputs[i], rg[i].lines) }));
}

/** Whether the tool's shown result is rg's (the first 250 sorted paths, or path:count lines, and the total). */
function sameAsRg(event, rgLines) {
  if (!event || event.is_error) return false;
  const text = event.output;
  if (/^No matches for /.test(text)) return rgLines.length === 0;
  const lines = text.split("\n").filter((l) => !l.startsWith("["));
  const total = /\[truncated: (\d+) results/.exec(text);
  const n = total ? Number(total[1]) : lines.length;
  if (n !== rgLines.length || /\[search stopped|could not be searched/.test(text)) return false;
  // rg -c prints path:count, as pod's count mode does; -l the paths, as files_with_matches.
  return lines.every((l, i) => l === rgLines[i]);
}

const rotate = (xs, by) => xs.map((_, i) => xs[(i + by) % xs.length]);

/**
 * The cold rows for one corpus: per pattern, first call and median of calls 1-5 in its
 * own fresh process (`reps` runs each, patterns in rotated order), and the median of its
 * five calls in `reps` interleaved runs; each against rg's median in the same runs.
 */
export async function coldRows(pod, root, patterns, { reps = 3, log = () => {}, ...opts } = {}) {
  // The page cache holds the corpus before anything is timed (rg reads it once).
  runRg(root, patterns[0]);
  // Ratios are taken call by call, against the rg run right after it, then their
  // median: a slow spell of this shared machine then hits both sides of a ratio.
  const fresh = new Map(patterns.map((p) => [p, { first: [], med: [], rg: [], firstRatio: [], medRatio: [], same: true }]));
  const inter = new Map(patterns.map((p) => [p, { pod: [], rg: [], ratio: [], same: true }]));
  for (let rep = 0; rep < reps; rep++) {
    for (const p of rotate(patterns, rep)) {
      const calls = await podRun(pod, root, [p, p, p, p, p], opts);
      const f = fresh.get(p);
      f.first.push(calls[0].pod);
      f.med.push(median(calls.map((c) => c.pod)));
      f.rg.push(...calls.map((c) => c.rg));
      f.firstRatio.push(calls[0].pod / calls[0].rg);
      f.medRatio.push(median(calls.map((c) => c.pod / c.rg)));
      f.same &&= calls.every((c) => c.same);
      log(`  ${p.label}: ${calls.map((c) => c.pod.toFixed(0)).join(", ")} ms (in the tool ${calls.map((c) => c.tool?.toFixed(0)).join(", ")}; rg ${calls.map((c) => c.rg.toFixed(0)).join(", ")})`);
    }
    const order = rotate(patterns, rep);
    const calls = await podRun(pod, root, Array.from({ length: 5 }, () => order).flat(), opts);
    for (const c of calls) {
      const x = inter.get(c.pattern);
      x.pod.push(c.pod);
      x.rg.push(c.rg);
      x.ratio.push(c.pod / c.rg);
      x.same &&= c.same;
    }
    log(`  interleaved run ${rep + 1}: ${calls.map((c) => c.pod.toFixed(0)).join(" ")}`);
  }
  return patterns.map((p) => {
    const f = fresh.get(p);
    const x = inter.get(p);
    const rgFresh = median(f.rg);
    const rgInter = median(x.rg);
    return {
      label: p.label,
      first: median(f.first),
      med15: median(f.med),
      rg: rgFresh,
      interleaved: median(x.pod),
      rgInterleaved: rgInter,
      firstRatio: median(f.firstRatio),
      med15Ratio: median(f.medRatio),
      interleavedRatio: median(x.ratio),
      same: f.same && x.same,
    };
  });
}

// node --import tsx bench/grep-cold.mjs <corpus-dir> [pattern-label-substring...]: one corpus, quickly.
if (import.meta.url === `file://${process.argv[1]}`) {
  const { PATTERNS } = await import("./search.mjs");
  const [dir, ...labels] = process.argv.slice(2);
  const patterns = labels.length ? PATTERNS.filter((p) => labels.some((l) => p.label.includes(l))) : PATTERNS;
  const pod = path.resolve(process.env.POD_BENCH_BIN ?? path.join(import.meta.dirname, "../dist/pod.cjs"));
  const reps = Number(process.env.POD_BENCH_REPS ?? 1);

  const load = () => loadavg().map((x) => x.toFixed(2)).join(" ");
  process.stderr.write(`load ${load()}\n`);
  const rows = await coldRows(pod, path.resolve(dir), patterns, { reps, log: (s) => process.stderr.write(`${s}\n`) });
  for (const r of rows) console.log(`${r.label.padEnd(34)} first ${r.first.toFixed(0).padStart(4)} med1-5 ${r.med15.toFixed(0).padStart(4)} rg ${r.rg.toFixed(0).padStart(4)} | ${r.firstRatio.toFixed(2)} ${r.med15Ratio.toFixed(2)} | inter ${r.interleaved.toFixed(0)} / ${r.rgInterleaved.toFixed(0)} = ${r.interleavedRatio.toFixed(2)} ${r.same ? "same" : "DIFFERS"}`);
  process.stderr.write(`load ${load()}\n`);
}

/**
 * A run that never greps, over `root`: one model turn answering in text after
 * `firstLatencyMs`. Its wall time (spawn to exit) and CPU (every thread, read as its
 * run_end line arrives), with Grep visible or disabled: what the threads' start and
 * warm-up cost a run that does not use them.
 */
export async function noGrepRun(pod, rootArg, { firstLatencyMs = FIRST_LATENCY_MS, grep = true } = {}) {
  const root = path.resolve(rootArg);
  const dir = mkdtempSync(path.join(tmpdir(), "pod-bench-no-grep-"));
  writeFileSync(path.join(dir, "pod.toml"), `[pod]\nname = "no-grep"\n\n[scope]\nroot = ${JSON.stringify(root)}\n${grep ? "" : '\n[tools]\ndisabled = ["Grep"]\n'}`);
  const server = await gatedServer({ turns: [{ response: { content: [{ type: "text", text: "Nothing to search." }] }, delivery: FAST }] }, () => sleep(firstLatencyMs));
  let cpu = 0;
  let ended = 0;
  try {
    const t = performance.now();
    const child = spawn(process.execPath, [pod, "run", "--manifest", path.join(dir, "pod.toml"), "Answer."], {
      cwd: root,
      env: { ...process.env, POD_RUNTIME_DIR: "", ANTHROPIC_API_KEY: "bench-key", ANTHROPIC_BASE_URL: server.url, NO_COLOR: "1" },
      stdio: ["ignore", "pipe", "pipe"],
    });
    child.stderr.resume();
    child.stdout.setEncoding("utf8").on("data", (d) => {
      if (d.includes('"type":"run_end"')) {
        ended = performance.now();
        cpu = threadTimes(child.pid).run / 1e6;
      }
    });
    const code = await new Promise((resolve) => child.on("close", resolve));
    if (code !== 0) throw new Error(`pod run exited ${code}`);
    const closed = performance.now();
    return { wall: closed - t, cpu, exitMs: closed - ended };
  } finally {
    await server.close();
    rmSync(dir, { recursive: true, force: true });
  }
}

const fmtMs = (ms) => (ms >= 100 ? ms.toFixed(0) : ms.toFixed(1));
const load = () => loadavg().map((x) => x.toFixed(1)).join(" / ");

/**
 * The cold section of `npm run bench -- grep`: every corpus, every pattern (coldRows),
 * and what a run that never greps pays. `reps` fresh processes per pattern.
 */
export async function grepColdBench(pod, corpora, patterns, { reps = 3, log = () => {} } = {}) {
  const corpusResults = [];
  const worst = { first: 0, med15: 0, interleaved: 0 };
  for (const c of corpora) {
    const before = load();
    log(`grep cold: ${c.name} (load ${before})`);
    const rows = await coldRows(pod, c.dir, patterns, { reps, log });
    for (const r of rows) {
      worst.first = Math.max(worst.first, r.firstRatio);
      worst.med15 = Math.max(worst.med15, r.med15Ratio);
      worst.interleaved = Math.max(worst.interleaved, r.interleavedRatio);
    }
    corpusResults.push({ ...c, load: `${before} → ${load()}`, rows });
  }
  // A run that never greps, on the largest node_modules: Grep visible (threads and
  // warm-up started) against Grep disabled, interleaved.
  const tree = corpora.find((c) => c.name === "app") ?? corpora[0];
  const noGrep = [];
  for (const latency of [0, FIRST_LATENCY_MS, 2000]) {
    const runs = { visible: [], disabled: [] };
    for (let i = 0; i < 2 * reps + 1; i++) for (const grep of ["visible", "disabled"]) runs[grep].push(await noGrepRun(pod, tree.dir, { firstLatencyMs: latency, grep: grep === "visible" }));
    const m = (xs, k) => median(xs.map((x) => x[k]));
    noGrep.push({ latency, visible: { wall: m(runs.visible, "wall"), cpu: m(runs.visible, "cpu") }, disabled: { wall: m(runs.disabled, "wall"), cpu: m(runs.disabled, "cpu") } });
  }
  return { corpusResults, worst, noGrep, noGrepTree: tree.name };
}

/** Markdown rows for one corpus's cold results. */
export function coldTableRows(rows) {
  return rows.map((r) => [r.label, fmtMs(r.first), fmtMs(r.med15), fmtMs(r.rg), r.firstRatio.toFixed(2), r.med15Ratio.toFixed(2), `${fmtMs(r.interleaved)} / ${fmtMs(r.rgInterleaved)}`, r.interleavedRatio.toFixed(2), r.same ? "same" : "**differs**"]);
}
