// Grep against ripgrep on real code (bench/corpora.mjs) and, as one extra row, the
// generated tree; Glob against fast-glob on the generated tree. pod's tools run
// in-process (as in a run); rg runs as a process, whose ~2 ms start is noise here.
import { spawnSync } from "node:child_process";
import { mkdirSync, realpathSync, writeFileSync } from "node:fs";
import path from "node:path";
import fg from "fast-glob";
import { createToolbox } from "../src/tools/index.ts";
import { GREP_DEADLINE_MS, grepFiles, grepTool } from "../src/tools/grep/index.ts";
import { GrepPool } from "../src/tools/grep/pool.ts";
import { ScopedFs } from "../src/tools/scoped-fs.ts";
import { fmt, median, ratio, timeInterleaved } from "./lib.mjs";
import { NEEDLES } from "./tree.mjs";

const signal = new AbortController().signal;

/** The pattern set: rare and common literals, case-insensitive literals, regexes whose required literal is short or absent, many-match queries. */
export const PATTERNS = [
  { label: "rare literal", pattern: "ReadableStreamDefaultReader" },
  { label: "common literal", pattern: "function" },
  { label: "case-insensitive literal", pattern: "deprecated", ci: true },
  { label: "case-insensitive rare", pattern: "xmlhttprequest", ci: true },
  { label: "`\\w+Sync\\(`", pattern: "\\w+Sync\\(" },
  { label: "`err(or)?\\s*=`", pattern: "err(or)?\\s*=" },
  { label: "`import\\s+\\{[^}]*\\}\\s+from`", pattern: "import\\s+\\{[^}]*\\}\\s+from" },
  { label: "many matches, counted: `return`", pattern: "return", count: true },
];

/** rg's answer: sorted "path" (files) or "path:count" (count) lines. */
function rgList(root, p) {
  const args = [p.count ? "-c" : "-l", "--hidden", "--no-messages", "--no-ignore-parent", ...(p.ci ? ["-i"] : []), "-e", p.pattern, "."];
  const r = spawnSync("rg", args, { cwd: root, encoding: "utf8", maxBuffer: 1 << 28 });
  if (r.status !== 0 && r.status !== 1) throw new Error(`rg failed: ${r.stderr}`);
  return r.stdout.split("\n").filter(Boolean).map((l) => l.replace(/^\.\//, "")).sort();
}

/** pod's Grep search (the tool's, without its output cap), timed against rg, interleaved; and the two match sets compared. */
export async function grepRows(root, pool, patterns, runs) {
  const fs = new ScopedFs({ root, deny: [], readOnly: [], hidden: [] });
  const rows = [];
  const ratios = {};
  for (const p of patterns) {
    const input = { pattern: p.pattern, output_mode: p.count ? "count" : "files_with_matches", ...(p.ci ? { case_insensitive: true } : {}) };
    let podOut = [];
    let rgOut = [];
    const podRun = async () => {
      const found = await grepFiles(fs, { abs: root, rel: "" }, input, pool, signal);
      if (found.stopped || found.unsearched) throw new Error(`pod's search of ${p.pattern} stopped: ${found.stopped ?? found.failure}`);
      podOut = found.hits.map((h) => (p.count ? `${h.rel}:${h.count}` : h.rel)).sort();
    };
    const [podMs, rgMs] = await timeInterleaved([podRun, () => void (rgOut = rgList(root, p))], { runs });
    const rgSet = new Set(rgOut);
    const podSet = new Set(podOut);
    const onlyPod = podOut.filter((f) => !rgSet.has(f));
    const onlyRg = rgOut.filter((f) => !podSet.has(f));
    const same = onlyPod.length === 0 && onlyRg.length === 0;
    ratios[p.label] = podMs / rgMs;
    const unit = p.count ? "files' counts" : "files";
    rows.push([p.label, fmt(podMs), fmt(rgMs), ratio(podMs, rgMs), same ? `same ${podOut.length} ${unit}` : `**differs**: +${onlyPod.length} −${onlyRg.length} (${[...onlyPod, ...onlyRg].slice(0, 3).join(", ")})`]);
  }
  return { rows, ratios };
}

/** The catastrophic pattern on a 1 MB file: through the Grep tool, with its real deadline. */
async function catastrophic(dir) {
  mkdirSync(dir, { recursive: true });
  writeFileSync(path.join(dir, "run.txt"), `${"a".repeat(1 << 20)}!\n`);
  const fs = new ScopedFs({ root: dir, deny: [], readOnly: [], hidden: [] });
  const grep = grepTool(fs);
  await grep.run({ pattern: "warm" }, { signal }); // start the threads, as any earlier Grep of the run would
  let maxGap = 0;
  let last = performance.now();
  const tick = setInterval(() => {
    maxGap = Math.max(maxGap, performance.now() - last);
    last = performance.now();
  }, 10);
  const t = performance.now();
  const r = await grep.run({ pattern: "(a+)+$" }, { signal });
  const ms = performance.now() - t;
  clearInterval(tick);
  const rgT = performance.now();
  spawnSync("rg", ["-c", "(a+)+$", "."], { cwd: dir });
  const rgMs = performance.now() - rgT;
  return { ms, rgMs, maxGap, stopped: /search stopped after/.test(r.output), deadlineMs: GREP_DEADLINE_MS };
}

export async function search(treeDir, corpora = []) {
  const root = realpathSync(treeDir);
  const { tools } = await createToolbox({ root, deny: [], readOnly: [], hidden: [] }, { enabled: false, allow: [], timeout_s: 1 });
  const glob = tools.find((t) => t.name === "Glob");
  const hasRg = spawnSync("rg", ["--version"]).status === 0;
  if (!hasRg) throw new Error("the Grep bench needs ripgrep (apt-get install ripgrep): its baseline is not faked");

  // As in a run, the worker pool is started by the first search and kept; its
  // start-up is timed on its own (from source it includes tsx's loader, so it is an upper bound).
  const poolStart = performance.now();
  const pool = GrepPool.start();
  await pool.ready();
  const poolMs = performance.now() - poolStart;

  // Steady state, as within a run after its first Grep: three searches warm the
  // threads' JIT before anything is timed. The first one's cost is reported.
  const warm = [];
  if (corpora[0]) {
    const fs = new ScopedFs({ root: realpathSync(corpora[0].dir), deny: [], readOnly: [], hidden: [] });
    for (let i = 0; i < 4; i++) {
      const t = performance.now();
      await grepFiles(fs, { abs: fs.root, rel: "" }, { pattern: PATTERNS[0].pattern, output_mode: "files_with_matches" }, pool, signal);
      warm.push(performance.now() - t);
    }
  }

  const corpusResults = [];
  const worst = [];
  for (const c of corpora) {
    const r = await grepRows(realpathSync(c.dir), pool, PATTERNS, 7);
    corpusResults.push({ ...c, rows: r.rows, ratios: r.ratios });
    worst.push(...Object.values(r.ratios));
  }
  const generated = await grepRows(root, pool, [{ label: "literal (generated tree)", pattern: NEEDLES.literal }], 5);
  const hostile = await catastrophic(path.join(root, "..", ".corpora", "hostile"));
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
  await pool.close();
  return {
    builtPoolMs: await builtPoolStart(pool.size),
    poolMs,
    poolSize: pool.size,
    warm: corpora[0] ? { corpus: corpora[0].name, first: warm[0], warmed: warm[3] } : undefined,
    corpusResults,
    generatedRow: generated.rows[0],
    hostile,
    grepWorst: worst.length ? Math.max(...worst) : undefined,
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
    // With the files its drill reads, as the pool starts it (src/tools/grep/pool.ts).
    const workerData = { drillFiles: [file, path.join(import.meta.dirname, "../dist/undici.cjs")] };
    const workers = Array.from({ length: size }, () => new Worker(`require(${JSON.stringify(file)});`, { eval: true, workerData }));
    await Promise.all(
      workers.map(
        (w) =>
          new Promise((resolve) => {
            w.once("message", resolve); // { ready: true }, once loaded
          }),
      ),
    );
    times.push(performance.now() - t);
    await Promise.all(workers.map((w) => w.terminate()));
  }
  return median(times);
}
