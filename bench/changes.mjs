// What files_changed costs a run (issue 25): the scope's snapshot at the start and the
// comparison at the end (src/changes/), on real trees of ~11,000 files made git
// checkouts the way CI gets one (committed, then cloned: a pack and a fresh index),
// against `git status` on the same tree, timed in the same rounds. Then the built
// binary itself on one of them, with POD_TIMING=1: how long its first tool call waited
// for the snapshot and how long the comparison took, i.e. what the run paid.
import { execFileSync, spawn, spawnSync } from "node:child_process";
import { once } from "node:events";
import { cpSync, mkdirSync, mkdtempSync, readFileSync, rmSync, unlinkSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { compareScope } from "../src/changes/compare.ts";
import { buildPatch } from "../src/changes/patch.ts";
import { takeSnapshot } from "../src/changes/snapshot.ts";
import { startFakeServer } from "../test/fake-server/server.ts";
import { ensureCorpora } from "./corpora.mjs";
import { gatedServer } from "./grep-cold.mjs";
import { cachedCheckout, git, median } from "./lib.mjs";

const LINUX_DIRS = ["include", "fs", "kernel", "lib", "mm", "net"];
const log = (s) => process.stderr.write(`bench: ${s}\n`);
// No background gc or maintenance: it would still be writing in .git when the scratch repository is removed.

/** A git checkout of `dirs` (cached in bench/.corpora/changes-NAME/): committed in a scratch repository, then cloned (a pack, a fresh index). */
function checkout(root, name, from, dirs) {
  return cachedCheckout(root, `changes-${name}`, (src) => {
    for (const d of dirs) cpSync(path.join(from, d), path.join(src, d), { recursive: true, verbatimSymlinks: true });
  }, log);
}

/** A typical run's changes: three files edited, two added in a new directory, one deleted. Returns the undo. */
function typicalChanges(dir, files) {
  const picks = [files[10], files[Math.floor(files.length / 2)], files[files.length - 10]];
  const gone = files[Math.floor(files.length / 3)];
  const saved = [...picks, gone].map((f) => [f, readFileSync(path.join(dir, f))]);
  for (const f of picks) writeFileSync(path.join(dir, f), Buffer.concat([readFileSync(path.join(dir, f)), Buffer.from("\n/* changed by the bench */\n")]));
  mkdirSync(path.join(dir, "bench-new"), { recursive: true });
  writeFileSync(path.join(dir, "bench-new/a.c"), "int a(void) { return 1; }\n");
  writeFileSync(path.join(dir, "bench-new/b.h"), "int a(void);\n");
  unlinkSync(path.join(dir, gone));
  return () => {
    for (const [f, data] of saved) writeFileSync(path.join(dir, f), data);
    rmSync(path.join(dir, "bench-new"), { recursive: true, force: true });
  };
}

const scope = (root) => ({ root, deny: [], hidden: [path.join(root, ".pod")] });

async function inProcess(dir, rounds) {
  const files = git(dir, "ls-files", "-z").toString().split("\0").filter((f) => f.endsWith(".c") || f.endsWith(".h") || f.endsWith(".js"));
  const t = { status: [], snapshot: [], compare: [], compareChanged: [], patch: [] };
  let size = 0;
  for (let i = 0; i <= rounds; i++) {
    const keep = i > 0;
    let s = performance.now();
    // git's own look at the tree, as a CI script would take it (a process: its start is in the time).
    spawnSync("git", ["status", "--porcelain"], { cwd: dir, env: { ...process.env, GIT_OPTIONAL_LOCKS: "0" }, stdio: "ignore" });
    if (keep) t.status.push(performance.now() - s);
    s = performance.now();
    const snap = await takeSnapshot(scope(dir));
    if (keep) t.snapshot.push(performance.now() - s);
    size = snap.files.size;
    s = performance.now();
    const none = await compareScope(snap);
    if (keep) t.compare.push(performance.now() - s);
    if (none.files.length !== 0) throw new Error(`nothing changed, yet: ${none.files.map((f) => f.path).join(", ")}`);
    const undo = typicalChanges(dir, files);
    try {
      s = performance.now();
      const changes = await compareScope(snap);
      if (keep) t.compareChanged.push(performance.now() - s);
      if (changes.files.length !== 6) throw new Error(`expected 6 changes, got ${changes.files.map((f) => `${f.change} ${f.path}`).join(", ")}`);
      s = performance.now();
      const patch = await buildPatch(snap, changes, async () => true);
      if (keep) t.patch.push(performance.now() - s);
      if (patch.missing.length) throw new Error(`patch misses ${patch.missing.map((m) => m.path)}`);
    } finally {
      undo();
    }
  }
  return { files: size, ...Object.fromEntries(Object.entries(t).map(([k, v]) => [k, median(v)])) };
}

/** `rounds` snapshots and comparisons of `dir` (after one untimed round): the last snapshot, and the times of each. */
async function snapshotRounds(dir, rounds) {
  const snapT = [];
  const cmpT = [];
  let snap;
  for (let i = 0; i <= rounds; i++) {
    let s = performance.now();
    snap = await takeSnapshot(scope(dir));
    if (i > 0) snapT.push(performance.now() - s);
    s = performance.now();
    await compareScope(snap);
    if (i > 0) cmpT.push(performance.now() - s);
  }
  return { snap, snapT, cmpT };
}

/** The same tree without git: a copy outside any repository. The snapshot reads what it keeps, up to its budget. */
async function withoutGit(from, rounds) {
  const dir = mkdtempSync(path.join(tmpdir(), "pod-bench-changes-nogit-"));
  try {
    execFileSync("cp", ["-r", `${from}/.`, dir]);
    rmSync(path.join(dir, ".git"), { recursive: true, force: true });
    const { snap, snapT, cmpT } = await snapshotRounds(dir, rounds);
    if (snap.git) throw new Error("the copy is inside a repository");
    const kept = [...snap.files.values()].reduce((a, e) => a + (e.bytes?.length ?? 0), 0);
    return { files: snap.files.size, truncated: snap.truncated, kept, snapshot: median(snapT), compare: median(cmpT) };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

/** Past the listing limit, without git: a tree of both corpora (~28,000 files) in a temporary directory outside any repository. */
async function pastTheLimit(trees, rounds) {
  const dir = mkdtempSync(path.join(tmpdir(), "pod-bench-changes-big-"));
  try {
    for (const t of trees) execFileSync("cp", ["-r", "--no-preserve=links", t.dir, path.join(dir, t.name)]);
    for (const t of trees) rmSync(path.join(dir, t.name, ".git"), { recursive: true, force: true });
    const { snap, snapT, cmpT } = await snapshotRounds(dir, rounds);
    const total = Number(execFileSync("sh", ["-c", "find . -type f | wc -l"], { cwd: dir, encoding: "utf8" }).trim());
    return { total, files: snap.files.size, truncated: snap.truncated, snapshot: median(snapT), compare: median(cmpT) };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

/** The built binary on the checkout: Read, Edit, done; POD_TIMING's stamps say what the run paid. */
/**
 * `thinkMs`: how long the model takes to answer each request after the first (0: at
 * once, the worst case; a real model takes seconds).
 */
async function binary(pod, dir, runs, thinkMs = 0) {
  const listed = git(dir, "ls-files", "-z").toString().split("\0");
  const file = listed.find((f) => f.endsWith(".c") && f.includes("/")) ?? listed.find((f) => f.endsWith(".js") && f.includes("/"));
  const original = readFileSync(path.join(dir, file));
  const firstLine = original.toString("utf8").split("\n").find((l) => l.trim().length > 8);
  writeFileSync(path.join(dir, "pod.toml"), '[pod]\nname = "bench"\nmodel = "claude-sonnet-5-5"\nsystem_prompt = "You fix code."\n\n[scope]\nroot = "."\n');
  const usage = { input_tokens: 10, output_tokens: 5, cache_read_input_tokens: 0, cache_creation_input_tokens: 0 };
  const tool = (id, name, input, after) => ({ ...(after ? { expect: { tool_result_for: after } } : {}), response: { content: [{ type: "tool_use", id, name, input }], stop_reason: "tool_use", usage } });
  const stamps = { wait: [], compare: [], endWait: [], ahead: [], snapshot: [], firstRequest: [], duration: [] };
  try {
    for (let i = 0; i < runs; i++) {
      const script = {
        turns: [
          tool("r", "Read", { path: file }),
          tool("e", "Edit", { path: file, old_string: firstLine, new_string: `${firstLine} /* bench */` }, "r"),
          { expect: { tool_result_for: "e" }, response: { content: [{ type: "text", text: "Done." }], stop_reason: "end_turn", usage } },
        ],
      };
      // Every request answered after thinkMs, the first one too (a real model's first answer takes longest).
      const server = thinkMs === 0 ? await startFakeServer(script) : await gatedServer(script, () => new Promise((r) => setTimeout(r, thinkMs)));
      try {
        const spawnedAt = performance.timeOrigin + performance.now();
        const child = spawn(process.execPath, [pod, "run", "--new", "edit it"], { cwd: dir, env: { ...process.env, ANTHROPIC_API_KEY: "bench-key", ANTHROPIC_BASE_URL: server.url, POD_TIMING: "1" }, stdio: ["ignore", "pipe", "pipe"] });
        let out = "";
        let err = "";
        child.stdout.setEncoding("utf8").on("data", (d) => (out += d));
        child.stderr.setEncoding("utf8").on("data", (d) => (err += d));
        const [code] = await once(child, "close");
        if (code !== 0) throw new Error(`pod exited ${code}: ${err}`);
        const end = JSON.parse(out.trim().split("\n").at(-1));
        if (JSON.stringify(end.files_changed) !== JSON.stringify([{ path: file, change: "modified" }])) throw new Error(`files_changed: ${JSON.stringify(end.files_changed)}`);
        const t = err.split("\n").filter((l) => l.startsWith("pod-timing ")).map((l) => JSON.parse(l.slice(11)));
        const phase = (p) => t.filter((x) => x.phase === p).reduce((a, x) => a + x.ms, 0);
        stamps.wait.push(phase("changes_wait"));
        stamps.compare.push(phase("changes_compare"));
        stamps.endWait.push(phase("changes_end_wait"));
        stamps.ahead.push(t.find((x) => x.phase === "changes_compare")?.ahead ? 1 : 0);
        stamps.firstRequest.push(t.find((x) => x.http === "request_sent").at - spawnedAt);
        stamps.snapshot.push(phase("changes_snapshot"));
        stamps.duration.push(end.duration_ms);
      } finally {
        await server.close();
        writeFileSync(path.join(dir, file), original);
      }
    }
  } finally {
    rmSync(path.join(dir, "pod.toml"), { force: true });
    rmSync(path.join(dir, ".pod"), { recursive: true, force: true });
  }
  return stamps;
}

/** Medians of binary()'s stamps; `ahead`: how many runs used the comparison made while the model answered. */
function summary(stamps) {
  const out = Object.fromEntries(Object.entries(stamps).map(([k, v]) => [k, median(v)]));
  out.ahead = stamps.ahead.reduce((a, b) => a + b, 0);
  return out;
}

/** A checkout of one file: the same runs there show what pod's start-up takes without a tree to look at. */
function tinyCheckout(root) {
  return cachedCheckout(root, "changes-tiny", (src) => {
    mkdirSync(path.join(src, "src"), { recursive: true });
    writeFileSync(path.join(src, "src/a.c"), "int a(void) {\n  return 1;\n}\n");
  }, log);
}

export async function changesBench(pod, root, { rounds = 11, runs = 7 } = {}) {
  const corpora = ensureCorpora(root);
  const linux = corpora.find((c) => c.name === "linux");
  const deps = corpora.find((c) => c.name === "deps");
  const trees = [
    { name: "linux", about: `${LINUX_DIRS.map((d) => `${d}/`).join(" ")} of the kernel corpus`, dir: checkout(root, "linux", linux.dir, LINUX_DIRS) },
    { name: "deps", about: "the deps corpus (an ordinary node_modules)", dir: checkout(root, "deps", path.dirname(deps.dir), ["node_modules"]) },
  ];
  const rows = [];
  const noGit = [];
  for (const t of trees) {
    log(`changes: ${t.name}, in-process`);
    const r = await inProcess(t.dir, rounds);
    rows.push({ ...t, ...r });
    log(`changes: ${t.name}, without git`);
    noGit.push({ ...t, ...(await withoutGit(t.dir, Math.min(rounds, 5))) });
  }
  log("changes: past the listing limit, without git");
  const big = await pastTheLimit(trees, Math.min(rounds, 5));
  const tiny = tinyCheckout(root);
  const bins = {};
  for (const think of [0, 1000]) {
    log(`changes: the binary, the model answering ${think ? `after ${think} ms` : "at once"}`);
    // Interleaved, one run of each at a time: a slow spell of the machine hits all three.
    const raw = {};
    for (let i = 0; i < runs; i++) {
      for (const [name, dir] of [["linux", trees[0].dir], ["deps", trees[1].dir], ["tiny", tiny]]) {
        const one = await binary(pod, dir, 1, think);
        raw[name] ??= Object.fromEntries(Object.keys(one).map((k) => [k, []]));
        for (const [k, v] of Object.entries(one)) raw[name][k].push(...v);
      }
    }
    for (const [name, stamps] of Object.entries(raw)) bins[`${name}${think}`] = summary(stamps);
  }
  return { rows, noGit, big, bins, trees };
}
