// npm run bench: measures pod against baselines timed in the same run and writes
// bench/results.md. Run from the repository root after `npm ci` (needs ripgrep for
// the Grep baseline: `apt-get install ripgrep`; it is skipped, not faked, without it).
import { writeFileSync } from "node:fs";
import path from "node:path";
import { coldStart } from "./cold-start.mjs";
import { machine } from "./lib.mjs";
import { memoryBench } from "./memory.mjs";
import { relayBench } from "./relay.mjs";
import { search } from "./search.mjs";
import { storeBench } from "./store.mjs";
import { ensureTree } from "./tree.mjs";

const root = path.resolve(import.meta.dirname, "..");
const pod = path.join(root, "dist/pod.cjs");
const only = process.argv.slice(2);
const want = (k) => only.length === 0 || only.includes(k);
const table = (head, rows) => [`| ${head.join(" | ")} |`, `| ${head.map(() => "---").join(" | ")} |`, ...rows.map((r) => `| ${r.join(" | ")} |`)].join("\n");
const log = (s) => process.stderr.write(`bench: ${s}\n`);
const started = Date.now();
const out = [`# Benchmarks`, "", `Machine: ${machine()}. Date: ${new Date().toISOString().slice(0, 10)}.`, "", "Reproduce: `npm ci && npm run bench` (or `npm run bench -- grep` for one section: cold, grep, store, relay, memory). Every ratio is against a baseline timed in the same run; times are medians.", ""];

if (want("cold")) {
  log("cold start");
  const r = await coldStart(pod);
  out.push("## Cold start (target ≤ 1.3× `node -e 0`)", "", table(["command", "median ms", "ratio"], r.rows), "");
}
if (want("grep")) {
  log("generating the search tree (first run only)");
  ensureTree(path.join(root, "bench/tree"));
  log("grep and glob");
  const r = await search(path.join(root, "bench/tree"));
  out.push("## Grep vs ripgrep (target ≤ 1.5×)", "", "Tree: 50,000 files, ~500 MB, 10% under a .gitignore'd directory, dotfiles, a few binary files (`bench/tree.mjs`). Both list matching files (`rg -l --hidden`, pod `files_with_matches`).", "", table(["search", "pod ms", "rg ms", "ratio", "match set"], r.grepRows), "", r.poolMs === undefined ? "" : `pod searches with ${r.poolSize} worker threads, started once per process by the first large search (start-up: ${r.poolMs.toFixed(0)} ms, not in the times above; rg's start-up is in its times, ~2 ms).`, "");
  out.push("## Glob vs fast-glob (target ≤ 1.2×)", "", "fast-glob does not read .gitignore, so it is given the same exclusions as globs.", "", table(["pattern", "pod ms", "fast-glob ms", "ratio", "match set"], [r.globRow]), "");
}
if (want("store")) {
  log("session store");
  const r = await storeBench();
  out.push("## Session store (target ≤ 50 ms at 10k, linear)", "", "Open a session for appending (read, validate, check for a torn line) and append one message.", "", table(["messages", "file", "open + append ms", "write"], r.rows), "");
}
if (want("relay")) {
  log("streaming relay");
  const r = await relayBench(pod);
  const pct = (x) => `${(x * 100).toFixed(1)}%`;
  out.push(
    "## Streaming relay (target: pod's overhead < 5%)",
    "",
    `A ${r.deltas.toLocaleString("en-US")}-delta text stream from the fake server (on its own thread, so reading the output does not slow it). Latency: first SSE byte written → first text_delta line read from stdout. Total: first SSE byte → last delta line. Each client runs ${r.spread.length} times, interleaved; medians.`,
    "",
    table(["client", "first event ms", "events/s", "total ms"], r.rows),
    "",
    `pod's overhead against the baseline: **${pct(r.overhead)}** (per-run ratios from ${pct(r.spread[0])} to ${pct(r.spread.at(-1))}). Against a client printing the same lines as pod: ${pct(r.overheadSameLines)} (pod batches its writes; the client writes each line).`,
    "",
  );
}
if (want("memory")) {
  log("peak memory");
  const r = await memoryBench(pod);
  out.push("## Peak memory (max RSS)", "", table(["run", "max RSS MB", "notes"], r.rows), "");
}
out.push(`Total bench time: ${((Date.now() - started) / 1000).toFixed(0)} s.`, "");
const file = path.join(root, only.length ? `bench/results-${only.join("-")}.md` : "bench/results.md");
writeFileSync(file, out.join("\n"));
process.stdout.write(out.join("\n") + "\n");
log(`wrote ${path.relative(root, file)}`);
