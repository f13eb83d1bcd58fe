import { existsSync } from "node:fs";
import { readdir, readFile } from "node:fs/promises";
import path from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import { manifest, ofType, startInProcessPod, text, type InProcessOptions, type InProcessPod } from "../helpers/in-process.js";
import { TEST_API_KEY } from "../helpers/pod-process.js";

/**
 * invokeRun's steps (src/runtime/invocation.ts), in process: what is refused before the pod
 * is touched, what the run leaves behind (status, the recording's end before run_end), and
 * that the key never reaches any output or runtime file.
 */
let pod: InProcessPod | undefined;
afterEach(async () => {
  await pod?.close();
  pod = undefined;
});

async function start(opts: InProcessOptions): Promise<InProcessPod> {
  pod = await startInProcessPod(opts);
  return pod;
}

async function filesUnder(dir: string): Promise<string[]> {
  const entries = await readdir(dir, { recursive: true, withFileTypes: true });
  return entries.filter((e) => e.isFile()).map((e) => path.join(e.parentPath, e.name));
}

describe("refused before the pod is touched (prepare)", () => {
  it("no API key: one error line, exit 2, no request, no runtime directory", async () => {
    const p = await start({ turns: [text("never")], manifest: manifest({ scope: false }), env: { ANTHROPIC_API_KEY: undefined } });
    const r = await p.run("hello");
    expect(r.code).toBe(2);
    expect(r.events).toEqual([expect.objectContaining({ type: "error", code: "invalid_credentials" })]);
    expect(p.server.requests).toHaveLength(0);
    expect(existsSync(p.path(".pod"))).toBe(false);
  });

  it("a budget for a model pod has no price for: refused as a usage error before anything is written", async () => {
    const p = await start({ turns: [text("never")], manifest: manifest({ scope: false }) });
    const r = await p.run("hello", { model: "claude-unpriced-1", maxBudgetUsd: 1 });
    expect(r.code).toBe(2);
    expect(r.events).toEqual([expect.objectContaining({ type: "error", code: "invalid_input", message: expect.stringContaining("claude-unpriced-1") })]);
    expect(existsSync(p.path(".pod"))).toBe(false);
  });
});

describe("refused once the pod is taken (openSession)", () => {
  it("resume of a pod that is not paused: exit 3, status unchanged, the lock released", async () => {
    const p = await start({ turns: [text("Done."), text("Again.")], manifest: manifest({ scope: false }) });
    expect((await p.run("hello")).code).toBe(0);
    const before = await p.status();
    const r = await p.resume();
    expect(r.code).toBe(3);
    expect(r.events).toEqual([expect.objectContaining({ type: "error", code: "not_paused" })]);
    expect(await p.status()).toEqual(before);
    // Released: the next run takes the pod.
    expect((await p.run("again")).code).toBe(0);
  });

  it("--session with an id that is not stored: refused, nothing run", async () => {
    const p = await start({ turns: [text("never")], manifest: manifest({ scope: false }) });
    const r = await p.run("hello", { session: "20990101T000000Z-abcdef" });
    expect(r.code).toBe(2);
    expect(r.events).toEqual([expect.objectContaining({ type: "error", code: "not_found" })]);
    expect(p.server.requests).toHaveLength(0);
  });
});

describe("what a run leaves behind (finish)", () => {
  it("status.json adds each run's usage and cost to the pod's; run_end reports this run's", async () => {
    const p = await start({ turns: [text("One."), text("Two.")], manifest: manifest({ scope: false }) });
    const first = (await p.run("one")).events.at(-1);
    const second = (await p.run("two")).events.at(-1);
    expect(second.usage).toEqual(first.usage);
    const status = await p.status();
    expect(status).toMatchObject({ status: "idle", last_result: "finished", turn: 2 });
    expect(status.usage.input_tokens).toBe(first.usage.input_tokens + second.usage.input_tokens);
    expect(status.cost_usd).toBeCloseTo(first.cost_usd + second.cost_usd, 12);
  });

  it("the recording's end is the run_end that was printed; run_start names the recording", async () => {
    const p = await start({ turns: [text("Recorded.")], manifest: manifest({ scope: false }) });
    const r = await p.run("hello");
    const runId = r.events[0].run_id;
    const meta = JSON.parse(await readFile(p.path(".pod", "tester", "runs", runId, "run.json"), "utf8"));
    const { v: _v, seq: _seq, ts: _ts, session_id: _s, type: _t, ...end } = r.events.at(-1);
    expect(meta.end).toEqual(end);
  });

  it("the API key is in no event and no runtime file, even when the model repeats it", async () => {
    const p = await start({ turns: [text(`The key is ${TEST_API_KEY}.`)], manifest: manifest({ scope: false }) });
    const r = await p.run(`remember ${TEST_API_KEY}`);
    expect(r.code).toBe(0);
    expect(JSON.stringify(r.events)).not.toContain(TEST_API_KEY);
    // Said, but redacted: the whole text as the model streamed it, and the prompt.
    expect(ofType(r.events, "text_done")[0].text).toBe("The key is [redacted].");
    expect(ofType(r.events, "run_start")[0].input).toBe("remember [redacted]");
    const files = await filesUnder(p.path(".pod"));
    expect(files.length).toBeGreaterThan(2);
    for (const f of files) expect(await readFile(f, "utf8"), f).not.toContain(TEST_API_KEY);
  });
});
