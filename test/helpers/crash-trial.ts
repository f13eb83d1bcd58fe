import { existsSync } from "node:fs";
import { readFile } from "node:fs/promises";
import path from "node:path";
import { expect } from "vitest";
import { startFakeServer } from "../fake-server/server.js";
import { apiHistoryProblems } from "./api-history.js";
import { schemaErrors } from "./event-schema.js";
import { makeProject, manifest, parseJsonl, podEnv, runPod, spawnPod } from "./pod-process.js";

/**
 * kill -9 at many points of a scripted multi-turn run with tools, then check
 * what a crash must never do: leave a file that does not load, lose a completed
 * turn, or leave a history the API would reject on resume.
 */
const usage = { input_tokens: 10, output_tokens: 5, cache_read_input_tokens: 0, cache_creation_input_tokens: 0 };
const delivery = { text_split: 6, chunk_bytes: 60, delay_ms: 3 };
const turn = (id: string, name: string, input: object, say: string) => ({
  response: { content: [{ type: "text", text: say }, { type: "tool_use", id, name, input }], stop_reason: "tool_use", usage },
  delivery,
});
export const SCRIPT = {
  turns: [
    turn("t1", "Glob", { pattern: "**/*.txt" }, "Looking around the project."),
    turn("t2", "Read", { path: "a.txt" }, "Reading a.txt now."),
    turn("t3", "Edit", { path: "a.txt", old_string: "alpha", new_string: "ALPHA" }, "Editing a.txt."),
    turn("t4", "Write", { path: "b.txt", content: "new file\n" }, "Writing b.txt."),
    turn("t5", "Bash", { command: "echo checked" }, "Running a check."),
    { response: { content: [{ type: "text", text: "All done with the work." }], stop_reason: "end_turn", usage }, delivery },
  ],
};
export const MANIFEST = manifest({ extra: '\n[tools.bash]\nenabled = true\nallow = ["echo *"]\n' });

export interface Trial {
  killAfterLines?: number;
  killAfterMs?: number;
  /** What the trial stands for (its kill-point class) and the seed it was drawn with: shown in every failure. */
  point?: string;
  seed?: number;
}

/**
 * The processes after the kill take a dead owner's lock after 100 ms instead of 2 s (the
 * test seam in src/store/lock.ts): nothing else runs on the pod then, and the wait is
 * what most of a trial's time was.
 */
const AFTER_KILL = { POD_TEST_DEAD_OWNER_STALE_MS: "100" };

/** mulberry32: a tiny seeded PRNG, so a failing seed can be replayed exactly. */
export function rng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/**
 * The kill-point classes of a full run of SCRIPT, by what the last line the pipeline saw
 * says: "run_start", "text_delta", "tool_call_done Edit" (the Edit is about to happen),
 * "tool_result Bash", "turn_end", "run_end"… Each class maps to the line numbers (1-based)
 * that are one. Kills by time ("timed") land between lines, mid-write.
 */
export function lineClasses(events: any[]): Map<string, number[]> {
  const classes = new Map<string, number[]>();
  events.forEach((e, i) => {
    const name = e.type === "tool_call_done" || e.type === "tool_result" ? `${e.type} ${e.name}` : e.type;
    classes.set(name, [...(classes.get(name) ?? []), i + 1]);
  });
  return classes;
}

/**
 * One kill point drawn from every class of a full run (`events`, which took `runMs`): a
 * line of each class, and a time in each third of the run. A run covers every class;
 * runs with other seeds cover other lines of each class.
 */
export function samplePoints(events: any[], runMs: number, seed: number): Trial[] {
  const next = rng(seed);
  const pick = <T>(xs: T[]): T => xs[Math.floor(next() * xs.length)]!;
  const trials: Trial[] = [...lineClasses(events)].map(([point, lines]) => ({ killAfterLines: pick(lines), point, seed }));
  for (const third of [0, 1, 2]) trials.push({ killAfterMs: Math.round(((third + next()) * runMs) / 3), point: `timed ${third + 1}/3`, seed });
  return trials;
}

export async function crashTrial(t: Trial): Promise<void> {
  const server = await startFakeServer(SCRIPT);
  const dir = await makeProject(MANIFEST, { "a.txt": "alpha\n" });
  const env = podEnv(server.url);
  const child = spawnPod(["run", "do the work"], { cwd: dir, env });
  let lines = 0;
  child.stdout!.on("data", (d: Buffer) => {
    lines += d.toString().split("\n").length - 1;
    if (t.killAfterLines !== undefined && lines >= t.killAfterLines) child.kill("SIGKILL");
  });
  if (t.killAfterMs !== undefined) setTimeout(() => child.kill("SIGKILL"), t.killAfterMs);
  let out = "";
  child.stdout!.on("data", (d: Buffer) => (out += d.toString()));
  await new Promise((resolve) => child.on("close", resolve));
  // A kill can land mid-line: only complete lines are events the pipeline saw.
  const complete = out.slice(0, out.lastIndexOf("\n") + 1);
  const before = { events: parseJsonl(complete) };
  for (const e of before.events) expect(schemaErrors(e), JSON.stringify(e)).toBeUndefined();
  await server.close();
  const label = JSON.stringify(t);
  const afterKill = podEnv(server.url, AFTER_KILL);

  // Every runtime file still loads.
  const status = await runPod(["status"], { cwd: dir, env: afterKill });
  expect(status.code, label).toBe(0);
  // A kill before the first write leaves no status.json at all, which is a clean state too.
  const statusFile = path.join(dir, ".pod/tester/status.json");
  if (existsSync(statusFile)) JSON.parse(await readFile(statusFile, "utf8"));
  const history = await runPod(["history"], { cwd: dir, env: afterKill });
  expect(history.code, `${label} ${history.stdout} ${history.stderr}`).toBe(0);

  // No completed turn lost: every turn_end and tool_result seen on stdout is in the history.
  const stored = history.events;
  for (const e of before.events.filter((e: any) => e.type === "turn_end")) {
    expect(stored.some((m: any) => m.role === "assistant" && m.turn === e.turn), `${label}: turn ${e.turn} lost`).toBe(true);
  }
  for (const e of before.events.filter((e: any) => e.type === "tool_result")) {
    expect(stored.some((m: any) => m.content.some((b: any) => b.type === "tool_result" && b.tool_use_id === e.id)), `${label}: result ${e.id} lost`).toBe(true);
  }

  // The run's recording replays up to its last completed turn (issue 24): offline, from the
  // recorded results, every turn the pipeline saw end is there, and it ends as the run did
  // (finished) or where the recording stops (paused); never a damaged-recording error.
  const runStart = before.events.find((e: any) => e.type === "run_start");
  if (runStart) {
    const replay = await runPod(["replay", runStart.run_id, "--tools", "recorded"], { cwd: dir, env: podEnv(undefined, { ANTHROPIC_API_KEY: undefined, ANTHROPIC_BASE_URL: "http://127.0.0.1:9" }) });
    expect([0, 10], `${label}: replay ${replay.stdout.slice(-600)} ${replay.stderr}`).toContain(replay.code);
    const replayed = new Set(replay.events.filter((e: any) => e.type === "turn_end").map((e: any) => e.turn));
    for (const e of before.events.filter((e: any) => e.type === "turn_end")) expect(replayed.has(e.turn), `${label}: turn ${e.turn} not replayed`).toBe(true);
    if (before.events.some((e: any) => e.type === "run_end")) expect(replay.code, label).toBe(0);
  }

  // The pod continues, and the history it sends is one the API accepts.
  const next = await startFakeServer({ turns: [{ response: { content: [{ type: "text", text: "continued" }], stop_reason: "end_turn", usage } }] });
  const nextEnv = podEnv(next.url, AFTER_KILL);
  let cont = await runPod(["resume"], { cwd: dir, env: nextEnv });
  if (cont.code === 3) cont = await runPod(["run", "continue"], { cwd: dir, env: nextEnv });
  expect(cont.code, `${label}: ${cont.stdout}`).toBe(0);
  // Killed after the last turn's end, before run_end: resume finds the work done and
  // finishes without asking the model. A new prompt then sends the whole history.
  if (next.requests.length === 0) {
    const more = await runPod(["run", "continue"], { cwd: dir, env: nextEnv });
    expect(more.code, `${label}: ${more.stdout}`).toBe(0);
  }
  const ranOwn = before.events.some((e: any) => e.type === "run_end");
  if (!ranOwn && before.events.length > 0) expect(cont.events.some((e: any) => e.type === "state_repaired"), label).toBe(true);
  expect(next.requests.length, label).toBeGreaterThanOrEqual(1);
  for (const r of next.requests) expect(apiHistoryProblems(r.body.messages), label).toEqual([]);
  await next.close();
}

export async function inParallel<T>(items: T[], width: number, fn: (t: T) => Promise<void>) {
  let i = 0;
  await Promise.all(Array.from({ length: width }, async () => {
    while (i < items.length) await fn(items[i++]!);
  }));
}

