// Grep against ripgrep and Glob against fast-glob on the generated tree. pod's tools
// run in-process (as in a run); rg runs as a process, whose ~2 ms start is noise here.
import { spawnSync } from "node:child_process";
import { realpathSync } from "node:fs";
import path from "node:path";
import fg from "fast-glob";
import { createToolbox } from "../src/tools/index.ts";
import { grepFiles } from "../src/tools/grep.ts";
import { compileMatcher } from "../src/tools/grep-matcher.ts";
import { GrepPool } from "../src/tools/grep-pool.ts";
import { ScopedFs } from "../src/tools/scoped-fs.ts";
import { fmt, median, ratio, timeInterleaved, timeIt } from "./lib.mjs";
import { NEEDLES } from "./tree.mjs";

const signal = new AbortController().signal;

function rgFiles(root, pattern, flags) {
  const r = spawnSync("rg", ["-l", "--hidden", "--no-messages", ...flags, "-e", pattern, "."], { cwd: root, encoding: "utf8", maxBuffer: 1 << 28 });
  if (r.status !== 0 && r.status !== 1) throw new Error(`rg failed: ${r.stderr}`);
  return r.stdout.split("\n").filter(Boolean).map((p) => p.replace(/^\.\//, "")).sort();
}

export async function search(treeDir) {
  const root = realpathSync(treeDir);
  const { tools } = await createToolbox({ root, deny: [] }, { enabled: false, allow: [], timeout_s: 1 });
  const fs = new ScopedFs({ root, deny: [], readOnly: [], hidden: [] });
  const glob = tools.find((t) => t.name === "Glob");
  const hasRg = spawnSync("rg", ["--version"]).status === 0;

  // As in a run, the worker pool is started by the first large search and kept; its
  // start-up is timed on its own (from source it includes tsx's loader, so it is an upper bound).
  let pool;
  const poolStart = performance.now();
  pool = GrepPool.start();
  await pool?.search({ pattern: "x", caseInsensitive: false, mode: "files_with_matches", context: 0 }, { abs: [], rel: [] });
  const poolMs = performance.now() - poolStart;
  const getPool = () => pool;
  const grepRows = [];
  const grepRatios = [];
  const byLabel = {};
  for (const [label, pattern, ci] of [
    ["literal", NEEDLES.literal, false],
    ["regex", NEEDLES.regex, false],
    ["case-insensitive", NEEDLES.ci, true],
  ]) {
    const input = { pattern, output_mode: "files_with_matches", head_limit: 1_000_000, ...(ci ? { case_insensitive: true } : {}) };
    let podFiles = [];
    let rgList = [];
    // The Grep tool's search without its output cap, so the whole match set can be compared.
    const podRun = async () => {
      const hits = await grepFiles(fs, { abs: root, rel: "" }, input, compileMatcher(pattern, ci), signal, getPool);
      podFiles = hits.map((h) => h.rel).sort();
    };
    if (!hasRg) {
      const podMs = await timeIt(podRun, { runs: 5 });
      grepRows.push([label, fmt(podMs), "—", "—", `${podFiles.length} files (rg not installed)`]);
      continue;
    }
    const [podMs, rgMs] = await timeInterleaved([podRun, () => void (rgList = rgFiles(root, pattern, ci ? ["-i"] : []))], { runs: 7 });
    const onlyPod = podFiles.filter((f) => !rgList.includes(f));
    const onlyRg = rgList.filter((f) => !podFiles.includes(f));
    const same = onlyPod.length === 0 && onlyRg.length === 0;
    grepRatios.push(podMs / rgMs);
    byLabel[label] = podMs / rgMs;
    grepRows.push([label, fmt(podMs), fmt(rgMs), ratio(podMs, rgMs), same ? `same ${podFiles.length} files` : `differs: +${onlyPod.length} −${onlyRg.length} (${[...onlyPod, ...onlyRg].slice(0, 3).join(", ")})`]);
  }

  let podCount = 0;
  let fgCount = 0;
  const [podGlob, fgMs] = await timeInterleaved(
    [
      async () => {
        const r = await glob.run({ pattern: "**/*.ts" }, { signal });
        podCount = Number(/(\d+) files match/.exec(r.output)?.[1] ?? r.output.split("\n").length);
      },
      async () => {
        // fast-glob does not read .gitignore: give it the same exclusions explicitly.
        fgCount = (await fg("**/*.ts", { cwd: root, dot: true, ignore: ["ignored/**", "**/.git/**"] })).length;
      },
    ],
    { runs: 9 },
  );
  await pool?.close();
  return {
    builtPoolMs: pool ? await builtPoolStart(pool.size) : undefined,
    poolMs: pool ? poolMs : undefined,
    poolSize: pool?.size,
    grepRows,
    grepRatioOf: byLabel,
    grepWorst: grepRatios.length ? Math.max(...grepRatios) : undefined,
    globRow: ["`**/*.ts`", fmt(podGlob), fmt(fgMs), ratio(podGlob, fgMs), podCount === fgCount ? `same ${podCount} files` : `pod ${podCount} vs fast-glob ${fgCount}`],
    globRatio: podGlob / fgMs,
  };
}

// What a run pays, once, for the pool: the built worker bundle, started and answering.
async function builtPoolStart(size) {
  const { Worker } = await import("node:worker_threads");
  const file = path.join(import.meta.dirname, "../dist/grep-worker.cjs");
  const times = [];
  for (let i = 0; i < 5; i++) {
    const t = performance.now();
    const workers = Array.from({ length: size }, () => new Worker(`require(${JSON.stringify(file)});`, { eval: true }));
    await Promise.all(
      workers.map(
        (w) =>
          new Promise((resolve) => {
            w.once("message", resolve);
            w.postMessage({ id: 0, spec: { pattern: "x", caseInsensitive: false, mode: "files_with_matches", context: 0 }, batch: { abs: [], rel: [] } });
          }),
      ),
    );
    times.push(performance.now() - t);
    await Promise.all(workers.map((w) => w.terminate()));
  }
  return median(times);
}
