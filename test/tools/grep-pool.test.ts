import { mkdirSync, writeFileSync } from "node:fs";
import { afterAll, describe, expect, it } from "vitest";
import { FILE_TYPES, grepFiles, type GrepInput } from "../../src/tools/grep/index.js";
import { compileMatcher, FileReader, type Matcher } from "../../src/tools/grep/matcher.js";
import { MAX_FILE_BYTES, searchBatch, type FileBatch } from "../../src/tools/grep/search.js";
import { WARM_FILES, WARM_ROUNDS, WARM_SPECS, warmUp } from "../../src/tools/grep/warm-up.js";
import { walkFiles, type WalkedFile } from "../../src/tools/walk.js";
import { GrepPool } from "../../src/tools/grep/pool.js";
import { ScopedFs } from "../../src/tools/scoped-fs.js";
import { sandbox } from "./helpers.js";

// A tree past the size at which Grep hands files to worker threads (2000), with
// ignored, denied, binary and matching files spread through it.
const FILES = 3000;
const sb = await sandbox();
writeFileSync(`${sb.root}/.gitignore`, "build/\n");
for (let i = 0; i < FILES; i++) {
  const dir = `${sb.root}/${i % 10 === 9 ? "build" : `src/m${i % 37}`}`;
  mkdirSync(dir, { recursive: true });
  let text = `line one of ${i}\n`;
  if (i % 41 === 0) text += `const needle_${i} = find(it);\n`;
  if (i % 53 === 0) text += `NEEDLE shouted in ${i}\nand needle again\n`;
  if (i % 400 === 7) text = `\0binary needle_\n${text}`;
  writeFileSync(`${dir}/f${i}.${i % 3 === 0 ? "ts" : "js"}`, text);
}
mkdirSync(`${sb.root}/secret`);
writeFileSync(`${sb.root}/secret/keys.ts`, "needle_ in a denied file\n");

const fs = new ScopedFs({ root: sb.root, deny: ["secret/**"], readOnly: [], hidden: [] });
const base = { abs: sb.root, rel: "" };
const broken: Error[] = [];
const pool = GrepPool.start((err) => broken.push(err));
afterAll(() => pool.close());

/** The pool's answer, and the same search done file by file in this thread (a test may run the regex here). */
async function both(input: GrepInput) {
  const m = compileMatcher(input.pattern, input.case_insensitive ?? false, input.multiline ?? false) as Matcher;
  const found = await grepFiles(fs, base, input, pool, new AbortController().signal);
  const files: WalkedFile[] = [];
  await walkFiles(fs, sb.root, (f) => void files.push(...f));
  const spec = { pattern: input.pattern, caseInsensitive: input.case_insensitive ?? false, multiline: input.multiline ?? false, mode: input.output_mode ?? "files_with_matches", context: input.context ?? 0, maxBytes: MAX_FILE_BYTES };
  const exts = input.type ? FILE_TYPES[input.type]! : undefined;
  const wanted = files.filter((f) => !exts || exts.some((e) => f.rel.endsWith(`.${e}`)));
  const single = searchBatch(new FileReader(), { prefix: `${sb.root}/`, rel: wanted.map((f) => f.rel) }, m, spec);
  single.sort((a, b) => (a.rel < b.rel ? -1 : 1));
  return { threaded: found.hits, single, found };
}

describe("Grep on worker threads", () => {
  it("finds exactly what a file-by-file search finds, in every mode", async () => {
    for (const input of [
      { pattern: "needle_\\d+" },
      { pattern: "needle", case_insensitive: true, output_mode: "count" as const },
      { pattern: "NEEDLE shouted", output_mode: "content" as const, context: 1 },
      { pattern: "needle_", type: "ts" },
    ]) {
      const { threaded, single, found } = await both(input);
      expect(found.stopped).toBeUndefined();
      expect(found.unsearched).toBe(0);
      expect(threaded.length, input.pattern).toBeGreaterThan(0);
      expect(threaded).toEqual(single);
      // ignored, denied and binary files are never searched
      expect(threaded.some((h) => /^(build|secret)\//.test(h.rel))).toBe(false);
      expect(threaded.some((h) => h.rel.endsWith("/f7.js"))).toBe(false);
    }
    const { threaded } = await both({ pattern: "needle_\\d+" });
    const expected = Array.from({ length: FILES }, (_, i) => i).filter((i) => i % 41 === 0 && i % 10 !== 9 && i % 400 !== 7);
    expect(threaded.map((h) => h.rel).sort()).toEqual(expected.map((i) => `src/m${i % 37}/f${i}.${i % 3 === 0 ? "ts" : "js"}`).sort());
    expect(pool.usable).toBe(true);
    expect(broken).toEqual([]);
  });

  it("finds the same from the scope root as its working directory, with paths relative to it", async () => {
    const away = await both({ pattern: "needle_\\d+", output_mode: "count" });
    const prefixes = new Set<string>();
    const search = pool.search.bind(pool);
    pool.search = (spec, batch, id) => (prefixes.add(batch.prefix), search(spec, batch, id));
    const cwd = process.cwd();
    process.chdir(sb.root);
    try {
      const here = await both({ pattern: "needle_\\d+", output_mode: "count" });
      expect(here.threaded).toEqual(away.threaded);
      expect(here.threaded.length).toBeGreaterThan(0);
    } finally {
      process.chdir(cwd);
      pool.search = search;
    }
    expect([...prefixes]).toEqual([""]);
  });

  it("works on after a call is stopped: the stopped workers are replaced", async () => {
    const cancel = new AbortController();
    const call = grepFiles(fs, base, { pattern: "needle_\\d+" }, pool, cancel.signal);
    cancel.abort();
    expect((await call).stopped).toBe("cancelled");
    const { threaded, single } = await both({ pattern: "needle_\\d+" });
    expect(threaded).toEqual(single);
    expect(broken).toEqual([]);
  });
});

describe("the pool never holds a finished process open", () => {
  // pod exits explicitly, but an embedder (or the bench) relies on the event loop
  // emptying: idle workers are unref'd, including after a search stopped at its deadline.
  it("a process that searched, and had a search stopped, exits on its own", async () => {
    const { spawnSync } = await import("node:child_process");
    writeFileSync(`${sb.root}/runaway.txt`, `${"a".repeat(1 << 20)}!\n`);
    const script = `
      import { grepTool } from ${JSON.stringify(new URL("../../src/tools/grep/index.ts", import.meta.url).pathname)};
      import { ScopedFs } from ${JSON.stringify(new URL("../../src/tools/scoped-fs.ts", import.meta.url).pathname)};
      const fs = new ScopedFs({ root: ${JSON.stringify(sb.root)}, deny: [], readOnly: [], hidden: [] });
      const grep = grepTool(fs, { deadlineMs: 1000 });
      const signal = new AbortController().signal;
      // One file: one batch, so one worker never gets any work (the case that held processes open).
      const found = await grep.run({ pattern: "aaa!", path: "runaway.txt", output_mode: "count" }, { signal });
      const stopped = await grep.run({ pattern: "(a+)+$", path: "runaway.txt" }, { signal });
      console.log(found.output === "runaway.txt:1", /search stopped/.test(stopped.output));
    `;
    // A file, not -e: --input-type=module would be inherited by the workers' own eval'd entry.
    const file = `${sb.root}/../exits-${process.pid}.mjs`;
    writeFileSync(file, script);
    const r = spawnSync(process.execPath, ["--import", "tsx", file], { encoding: "utf8", timeout: 60_000 });
    expect(r.signal, `still running after 60 s; stderr: ${r.stderr}`).toBeNull();
    expect(r.status, r.stderr).toBe(0);
    expect(r.stdout.trim()).toBe("true true");
  }, 90_000);
});

describe("a pool someone waits for keeps its process alive", () => {
  // The other side of never holding a process open: a waiter of ready() (the bench) is
  // not left with an event loop that empties under it (Node exits with 13, unsettled).
  it("a process awaiting only ready() sees the threads load", async () => {
    const { spawnSync } = await import("node:child_process");
    const script = `
      import { GrepPool } from ${JSON.stringify(new URL("../../src/tools/grep/pool.ts", import.meta.url).pathname)};
      const pool = GrepPool.start();
      await pool.ready();
      console.log("ready", pool.size);
      await pool.close();
    `;
    const file = `${sb.root}/../ready-${process.pid}.mjs`;
    writeFileSync(file, script);
    const r = spawnSync(process.execPath, ["--import", "tsx", file], { encoding: "utf8", timeout: 60_000 });
    expect(r.status, r.stderr).toBe(0);
    expect(r.stdout.trim()).toMatch(/^ready \d$/);
  }, 90_000);
});

describe("a pool started ahead of its first search (prepare)", () => {
  it("holds nothing open while it loads, and searches as usual once asked", async () => {
    const { spawnSync } = await import("node:child_process");
    writeFileSync(`${sb.root}/../prepared.txt`, "");
    const script = `
      import { grepTool } from ${JSON.stringify(new URL("../../src/tools/grep/index.ts", import.meta.url).pathname)};
      import { ScopedFs } from ${JSON.stringify(new URL("../../src/tools/scoped-fs.ts", import.meta.url).pathname)};
      const fs = new ScopedFs({ root: ${JSON.stringify(sb.root)}, deny: ["secret/**"], readOnly: [], hidden: [] });
      const ports = () => process.getActiveResourcesInfo().filter((r) => r === "MessagePort" || r === "Worker").length;
      const before = ports();
      const grep = grepTool(fs);
      grep.prepare();
      // The threads are loading: nothing of theirs may keep this process alive.
      const loading = ports() - before;
      const found = await grep.run({ pattern: "needle_\\\\d+", output_mode: "count", head_limit: 1 }, { signal: new AbortController().signal });
      console.log(loading, /\\[truncated: \\d+ results/.test(found.output));
    `;
    const file = `${sb.root}/../prepared-${process.pid}.mjs`;
    writeFileSync(file, script);
    const r = spawnSync(process.execPath, ["--import", "tsx", file], { encoding: "utf8", timeout: 60_000 });
    expect(r.signal, `still running after 60 s; stderr: ${r.stderr}`).toBeNull();
    expect(r.status, r.stderr).toBe(0);
    expect(r.stdout.trim()).toBe("0 true");
  }, 90_000);
});

describe("a Grep tool released at the loop's end (release)", () => {
  it("stops the threads prepare() started, and a prepare() after it starts none", async () => {
    const { spawnSync } = await import("node:child_process");
    const script = `
      import { readdirSync } from "node:fs";
      import { grepTool } from ${JSON.stringify(new URL("../../src/tools/grep/index.ts", import.meta.url).pathname)};
      import { ScopedFs } from ${JSON.stringify(new URL("../../src/tools/scoped-fs.ts", import.meta.url).pathname)};
      const fs = new ScopedFs({ root: ${JSON.stringify(sb.root)}, deny: [], readOnly: [], hidden: [] });
      const threads = () => readdirSync("/proc/self/task").length;
      const settle = async (want) => { for (let i = 0; i < 200 && threads() !== want; i++) await new Promise((r) => setTimeout(r, 25)); return threads(); };
      const before = threads();
      const grep = grepTool(fs);
      grep.prepare();
      const started = threads() - before;
      grep.release();
      const after = (await settle(before)) - before;
      const late = grepTool(fs);
      late.release();
      late.prepare();
      console.log(started > 0, after, threads() - before);
    `;
    const file = `${sb.root}/../released-${process.pid}.mjs`;
    writeFileSync(file, script);
    const r = spawnSync(process.execPath, ["--import", "tsx", file], { encoding: "utf8", timeout: 60_000 });
    expect(r.status, r.stderr).toBe(0);
    expect(r.stdout.trim()).toBe("true 0 0");
  }, 90_000);
});

describe("pod run starts Grep's threads with the run, only when the model can see Grep", () => {
  // The threads are counted in /proc while the model's answer streams slowly: a run
  // with Grep has the pool's threads before any call; one with Grep disabled never starts them.
  it("has the pool's threads during the first request with Grep, and none without", async () => {
    const { spawn } = await import("node:child_process");
    const { readdirSync } = await import("node:fs");
    const { availableParallelism } = await import("node:os");
    const { startFakeServer } = await import("../fake-server/server.js");
    const { POD_BIN, podEnv } = await import("../helpers/pod-process.js");
    const threads: Record<string, number[]> = {};
    for (const grep of ["visible", "disabled"]) {
      const dir = `${sb.root}/../pod-${grep}`;
      mkdirSync(dir, { recursive: true });
      writeFileSync(`${dir}/pod.toml`, `[pod]\nname = "t"\n\n[scope]\nroot = "."\n${grep === "disabled" ? '\n[tools]\ndisabled = ["Grep"]\n' : ""}`);
      const server = await startFakeServer({ turns: [{ response: { content: [{ type: "text", text: "a slowly streamed answer" }] }, delivery: { chunk_bytes: 200, delay_ms: 100, ping_every: 0, text_split: 4 } }] });
      try {
        const child = spawn(process.execPath, [POD_BIN, "run", "hi"], { cwd: dir, env: podEnv(server.url) as NodeJS.ProcessEnv, stdio: ["ignore", "pipe", "pipe"] });
        const counts: number[] = [];
        child.stdout.on("data", () => counts.push(readdirSync(`/proc/${child.pid}/task`).length));
        const code = await new Promise((resolve) => child.on("close", resolve));
        expect(code).toBe(0);
        threads[grep] = counts;
      } finally {
        await server.close();
      }
    }
    const pool = Math.max(1, Math.min(availableParallelism(), 4));
    // The first line (run_start) comes before the tools are made; the answer's deltas after.
    const { visible, disabled } = threads as { visible: number[]; disabled: number[] };
    expect(visible.length).toBeGreaterThan(3);
    // Counted while pod runs; a count taken as the process exits may be lower (threads end).
    expect(Math.max(...visible) - visible[0]!).toBe(pool);
    expect(Math.max(...disabled)).toBe(disabled[0]);
  }, 60_000);
});

describe("the warm-up: a search nobody waits for, run with the first model request", () => {
  /** A pool whose batches are recorded. */
  const recorded = () => {
    const p = GrepPool.start();
    const batches: FileBatch[] = [];
    const warmBatches = () => batches.filter((b) => warm.has(b)).length;
    const warm = new WeakSet<FileBatch>();
    const search = p.search.bind(p);
    p.search = (spec, batch, id, keepAlive) => {
      batches.push(batch);
      if (WARM_SPECS.includes(spec)) warm.add(batch);
      return search(spec, batch, id, keepAlive);
    };
    return { p, batches, warmBatches };
  };
  /** The warm-up as the tool starts it: grepFiles, run in the background. */
  const warmOn = (p: GrepPool, limit?: number, rounds?: number) =>
    warmUp((background, signal) => grepFiles(fs, base, { pattern: "-" }, p, signal, undefined, background), limit, rounds);

  it("searches only what a real call may (.gitignore, deny), each file once a round, round after round through the tree, and stops at its limit", async () => {
    const files: WalkedFile[] = [];
    await walkFiles(fs, sb.root, (f) => void files.push(...f));
    const walked = new Set(files.map((f) => f.rel));
    const one = recorded();
    await warmOn(one.p, undefined, 1).done;
    const rels = one.batches.flatMap((b) => b.rel);
    expect(rels.length).toBe(Math.min(WARM_FILES, files.length));
    expect(new Set(rels).size).toBe(rels.length);
    expect(rels.every((r) => walked.has(r))).toBe(true);
    expect(rels.some((r) => /^(build|secret)\//.test(r))).toBe(false);
    // Every batch was the warm-up's, with each of its specs in turn.
    expect(one.warmBatches()).toBe(one.batches.length);
    await one.p.close();

    const all = recorded();
    await warmOn(all.p).done;
    const allRels = all.batches.flatMap((b) => b.rel);
    expect(WARM_ROUNDS).toBeGreaterThan(1);
    expect(files.length).toBeGreaterThan(WARM_FILES);
    expect(files.length).toBeLessThan(WARM_ROUNDS * WARM_FILES);
    expect(allRels.length).toBe(WARM_ROUNDS * WARM_FILES);
    expect(allRels.every((r) => walked.has(r))).toBe(true);
    // Each round goes on where the one before stopped: the whole tree is searched, not its first files again.
    expect(new Set(allRels)).toEqual(walked);
    await all.p.close();

    const more = recorded();
    await warmOn(more.p, 10_000, 1).done;
    expect(new Set(more.batches.flatMap((b) => b.rel))).toEqual(walked);
    await more.p.close();

    const some = recorded();
    await warmOn(some.p, 1000, 2).done;
    const someRels = some.batches.flatMap((b) => b.rel);
    expect(someRels.length).toBe(2000);
    expect(new Set(someRels).size).toBe(2000);
    await some.p.close();
  });

  it("stops when a real call starts, and the call finds what it would have", async () => {
    const { p, warmBatches } = recorded();
    const warm = warmOn(p);
    await p.ready();
    await new Promise((resolve) => setImmediate(resolve)); // the warm-up's walk has begun
    warm.stop();
    const atStop = warmBatches();
    await warm.done;
    const found = await grepFiles(fs, base, { pattern: "needle_\\d+" }, p, new AbortController().signal);
    const { threaded } = await both({ pattern: "needle_\\d+" });
    expect(found.hits).toEqual(threaded);
    // Nothing more of the warm-up's was sent after its stop, and it had not searched everything.
    expect(warmBatches()).toBe(atStop);
    expect(atStop).toBeLessThan(WARM_ROUNDS * Math.ceil(2700 / 32));
    await p.close();
  });

  it("sends its workers specs of one shape, the same keys in the same order as a call's", async () => {
    // V8 compiles a worker's per-file path for the objects it has seen: a call's spec of
    // another shape than the warm-up's threw that code away at a user's first call.
    const p = GrepPool.start();
    const shapes = new Set<string>();
    const search = p.search.bind(p);
    p.search = (spec, batch, id, keepAlive) => (shapes.add(Object.keys(spec).join()), search(spec, batch, id, keepAlive));
    await warmOn(p, 64, 1).done;
    await grepFiles(fs, base, { pattern: "needle_\\d+", output_mode: "count" }, p, new AbortController().signal);
    await grepFiles(fs, base, { pattern: "needle", case_insensitive: true, multiline: true, output_mode: "content", context: 2 }, p, new AbortController().signal);
    await p.close();
    expect([...shapes]).toEqual(["pattern,caseInsensitive,multiline,mode,context,maxBytes"]);
  });
});

describe("each hit's link count, read by the worker", () => {
  it("is 1 for an ordinary file and 2 for a hardlinked one, so only the second is checked against deny", async () => {
    const { linkSync } = await import("node:fs");
    mkdirSync(`${sb.root}/linked`, { recursive: true });
    writeFileSync(`${sb.root}/linked/one.txt`, "link_count_needle\n");
    writeFileSync(`${sb.root}/linked/two.txt`, "link_count_needle\n");
    linkSync(`${sb.root}/linked/two.txt`, `${sb.root}/../two-outside.txt`);
    const found = await grepFiles(fs, { abs: `${sb.root}/linked`, rel: "linked" }, { pattern: "link_count_needle" }, pool, new AbortController().signal);
    expect(found.hits.map((h) => [h.rel, h.links])).toEqual([
      ["linked/one.txt", 1],
      ["linked/two.txt", 2],
    ]);
  });
});
