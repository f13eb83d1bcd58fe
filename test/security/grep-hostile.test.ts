// Attack: a catastrophic regex (nested quantifiers over a long run of one
// character). V8's backtracking engine takes exponential time on it; before Grep's
// regex moved to worker threads it held pod's event loop at 100% CPU, so `pod
// cancel` did nothing and the pod's lock went stale under a live owner.
import type { ChildProcess } from "node:child_process";
import { readFileSync, writeFileSync } from "node:fs";
import { afterAll, afterEach, describe, expect, it } from "vitest";
import { startFakeServer, type FakeServer } from "../fake-server/server.js";
import { collect, makeProject, manifest, ofType, podEnv, runPod, spawnPod } from "../helpers/pod-process.js";
import { grepTool } from "../../src/tools/grep/index.js";
import { ScopedFs } from "../../src/tools/scoped-fs.js";
import { sandbox } from "../tools/helpers.js";

const DEADLINE_MS = 1500;
/**
 * A call's deadline counts from when its worker threads are up, and a call after a
 * stopped one starts fresh threads: 20 ms built, but up to seconds here, from source
 * through tsx on a machine shared with other test runs. The e2e tests below hold the
 * built binary to the tight bound.
 */
const START_ALLOWANCE_MS = 4000;
const sb = await sandbox();
// 1 MB of one character with a different one at the end: `(a+)+$` fails only after
// trying every way of splitting the run.
writeFileSync(`${sb.root}/run.txt`, `${"a".repeat(1 << 20)}!\n`);
writeFileSync(`${sb.root}/short.txt`, `${"a".repeat(40)}!\nplain line\n`);
writeFileSync(`${sb.root}/ok.txt`, "a normal line with needle_ok in it\n");
const fs = new ScopedFs({ root: sb.root, deny: [], readOnly: [], hidden: [] });
const grep = grepTool(fs, { deadlineMs: DEADLINE_MS });

/** This thread's CPU time so far (ms), from /proc (Linux). */
function mainThreadCpuMs(): number {
  return Number(readFileSync(`/proc/self/task/${process.pid}/schedstat`, "utf8").split(" ")[0]) / 1e6;
}

/**
 * Runs `fn` while a 10 ms interval ticks (an event loop with work of its own);
 * returns its result, its time, and `stallCpuMs`: the most CPU the main thread spent
 * between two ticks. A regex running in this thread would spend its whole deadline
 * there; an event loop waiting for its workers spends a few ms. CPU time, not a
 * wall-clock gap: a loaded machine stretches the gaps (a 250 ms bound on them failed
 * under load, issue 26), not the work done in them.
 */
async function timed<T>(fn: () => Promise<T>): Promise<{ value: T; ms: number; stallCpuMs: number }> {
  let last = mainThreadCpuMs();
  let stallCpuMs = 0;
  const tick = setInterval(() => {
    const now = mainThreadCpuMs();
    stallCpuMs = Math.max(stallCpuMs, now - last);
    last = now;
  }, 10);
  const start = performance.now();
  try {
    const value = await fn();
    const ms = performance.now() - start;
    stallCpuMs = Math.max(stallCpuMs, mainThreadCpuMs() - last);
    return { value, ms, stallCpuMs };
  } finally {
    clearInterval(tick);
  }
}

const never = new AbortController().signal;
// The deadline counts from when the worker threads are up; start them first, so the
// bounds below measure the search (from source, through tsx, a start can take seconds here).
await grep.run({ pattern: "needle_ok" }, { signal: never });

describe("Grep against catastrophic patterns", () => {
  it("stops at its deadline with a clear result, and the event loop never stalls", async () => {
    for (const pattern of ["(a+)+$", "(a|a)*b", "(a*)*b", "(?:a+a+)+!x"]) {
      const { value: r, ms, stallCpuMs } = await timed(() => grep.run({ pattern, output_mode: "content" }, { signal: never }));
      expect(ms, pattern).toBeLessThan(DEADLINE_MS + START_ALLOWANCE_MS);
      expect(stallCpuMs, `${pattern}: the main thread ran ${stallCpuMs.toFixed(0)} ms without a tick`).toBeLessThan(100);
      expect(r.isError).toBe(false);
      expect(r.output, pattern).toMatch(/search stopped after \d+ s: the pattern is too expensive/);
    }
  });

  it("keeps what it found before the deadline", async () => {
    // ok.txt matches at once; run.txt never finishes.
    const r = await grep.run({ pattern: "(needle_ok|(a+)+$)" }, { signal: never });
    expect(r.output).toMatch(/^ok\.txt$/m);
    expect(r.output).toMatch(/search stopped/);
  });

  it("answers a cancel within 2 s, mid-regex", async () => {
    const cancel = new AbortController();
    const slow = grepTool(fs, { deadlineMs: 60_000 });
    setTimeout(() => cancel.abort(), 300);
    const { value: r, ms, stallCpuMs } = await timed(() => slow.run({ pattern: "(a+)+$" }, { signal: cancel.signal }));
    expect(ms).toBeLessThan(300 + 2000);
    expect(stallCpuMs).toBeLessThan(100);
    expect(r.isError).toBe(true);
    expect(r.output).toMatch(/cancelled/);
  });

  it("searches normally afterwards (the stopped workers were replaced)", async () => {
    const r = await grep.run({ pattern: "needle_ok", output_mode: "content" }, { signal: never });
    expect(r.output).toBe("ok.txt:1:a normal line with needle_ok in it");
  });

  it("refuses an absurdly long pattern at the boundary", () => {
    expect(grep.inputSchema.safeParse({ pattern: "a".repeat(5000) }).success).toBe(false);
  });
});

// Seeded generator of hostile patterns: nested and overlapping quantifiers over the
// characters the files are made of, the classic shapes of ReDoS.
function rng(seed: number) {
  return () => ((seed = (Math.imul(seed, 1103515245) + 12345) >>> 0) / 2 ** 32);
}
function hostilePattern(r: () => number): string {
  const ch = ["a", "\\w", "[a-z]", ".", "\\S", "[^!]"][Math.floor(r() * 6)]!;
  const inner = [`${ch}+`, `${ch}*`, `(?:${ch}|${ch})`, `${ch}+${ch}*`, `(?:${ch}${ch}?)`][Math.floor(r() * 5)]!;
  const outer = ["+", "*", "{2,}"][Math.floor(r() * 3)]!;
  const tail = ["$", "b", "!x", "\\d", "(?=b)"][Math.floor(r() * 5)]!;
  return `(${inner})${outer}${tail}`;
}

describe("generated hostile regexes (seeded)", () => {
  const seed = 20261126;
  it(`every call returns within its bound and the process stays responsive (seed ${seed})`, async () => {
    const r = rng(seed);
    const fast = grepTool(fs, { deadlineMs: 800 });
    await fast.run({ pattern: "needle_ok" }, { signal: never });
    for (let i = 0; i < 12; i++) {
      const pattern = hostilePattern(r);
      const { value: res, ms, stallCpuMs } = await timed(() => fast.run({ pattern, output_mode: r() < 0.5 ? "content" : "files_with_matches" }, { signal: never }));
      expect(ms, pattern).toBeLessThan(800 + START_ALLOWANCE_MS);
      expect(stallCpuMs, `${pattern}: the main thread ran ${stallCpuMs.toFixed(0)} ms without a tick`).toBeLessThan(100);
      expect(res.output.length, pattern).toBeGreaterThan(0);
    }
    // And the pool still answers a plain search correctly.
    expect((await fast.run({ pattern: "needle_ok" }, { signal: never })).output).toBe("ok.txt");
  }, 60_000);
});

describe("the built binary, with the fake server", () => {
  let server: FakeServer | undefined;
  afterEach(async () => {
    await server?.close();
    server = undefined;
  });
  const usage = { input_tokens: 10, output_tokens: 5, cache_read_input_tokens: 0, cache_creation_input_tokens: 0 };
  const grepTurn = { response: { content: [{ type: "tool_use", id: "toolu_grep", name: "Grep", input: { pattern: "(a+)+$", output_mode: "content" } }], stop_reason: "tool_use", usage } };
  const answer = { expect: { tool_result_for: "toolu_grep" }, response: { content: [{ type: "text", text: "That pattern was too slow." }], stop_reason: "end_turn", usage } };
  const files = { "run.txt": `${"a".repeat(1 << 20)}!\n` };

  it("a run that greps a catastrophic pattern ends normally after the deadline", async () => {
    server = await startFakeServer({ turns: [grepTurn, answer] });
    const dir = await makeProject(manifest(), files);
    const child = spawnPod(["run", "search"], { cwd: dir, env: podEnv(server.url) });
    // When each event line arrives: the Grep call's time is from its tool_call_done to its tool_result.
    const arrived = new Map<string, number>();
    let buf = "";
    child.stdout!.on("data", (d: Buffer) => {
      buf += d.toString();
      for (let nl = buf.indexOf("\n"); nl !== -1; nl = buf.indexOf("\n")) {
        const type = JSON.parse(buf.slice(0, nl)).type as string;
        if (!arrived.has(type)) arrived.set(type, Date.now());
        buf = buf.slice(nl + 1);
      }
    });
    const r = await collect(child, ["run"]);
    expect(arrived.get("tool_result")! - arrived.get("tool_call_done")!).toBeLessThan(10_000 + 1_500);
    expect(r.code).toBe(0);
    const result = ofType(r.events, "tool_result")[0];
    expect(result.output).toMatch(/search stopped after 10 s: the pattern is too expensive/);
    expect(r.events.at(-1)).toMatchObject({ type: "run_end", result: "finished" });
  }, 40_000);

  it("pod cancel stops it mid-regex within 2 s", async () => {
    server = await startFakeServer({ turns: [grepTurn, answer] });
    const dir = await makeProject(manifest(), files);
    const env = podEnv(server.url);
    const child: ChildProcess = spawnPod(["run", "search"], { cwd: dir, env });
    const done = collect(child, ["run"]);
    await new Promise<void>((resolve, reject) => {
      let buf = "";
      child.stdout!.on("data", (d: Buffer) => {
        buf += d.toString();
        if (buf.includes('"tool_call_done"')) resolve();
      });
      child.on("close", () => reject(new Error("pod ended before the Grep call")));
    });
    await new Promise((r) => setTimeout(r, 500)); // the regex is running by now
    // --no-wait: `pod cancel` sends SIGTERM and exits; the time is the run's own, to its exit.
    expect((await runPod(["cancel", "--no-wait"], { cwd: dir, env })).code).toBe(0);
    const signalled = Date.now();
    const r = await done;
    expect(Date.now() - signalled).toBeLessThan(2000);
    expect(r.code).toBe(10);
    const result = ofType(r.events, "tool_result")[0];
    expect(result).toMatchObject({ id: "toolu_grep", is_error: true });
    expect(result.output).toMatch(/cancelled/);
  }, 40_000);
});

afterAll(() => {});
