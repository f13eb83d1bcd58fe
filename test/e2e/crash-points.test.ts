import { describe, expect, it } from "vitest";
import { startFakeServer } from "../fake-server/server.js";
import { crashTrial, inParallel, lineClasses, MANIFEST, rng, samplePoints, SCRIPT, type Trial } from "../helpers/crash-trial.js";
import { makeProject, podEnv, runPod } from "../helpers/pod-process.js";

/**
 * kill -9 at sampled points of a scripted multi-turn run with tools (helpers/crash-trial.ts
 * says what each trial checks). Every run of this file kills once in every class of point
 * — after each kind of line (a text delta, each tool's tool_call_done just before its
 * effect, each tool_result, turn_end, run_end…) and at a time in each third of the run —
 * and then at POD_CRASH_TRIALS uniformly random points. Which line of a class, which
 * millisecond, and the random points come from the seed: a new one each run, printed, so
 * runs over time cover every point and a failure replays exactly:
 *   POD_CRASH_SEED=<seed> npx vitest run test/e2e/crash-points.test.ts
 * Run many more locally with POD_CRASH_TRIALS=200.
 */
const SEED = Number(process.env.POD_CRASH_SEED ?? Math.floor(Math.random() * 2 ** 31));
const RANDOM_TRIALS = Number(process.env.POD_CRASH_TRIALS ?? 4);

describe("kill -9 anywhere in a run", () => {
  it("never corrupts state, loses a completed turn, or breaks the API history: one kill in every class of point, then random ones", async () => {
    console.log(`crash-points: seed ${SEED}, ${RANDOM_TRIALS} random trials (POD_CRASH_SEED=${SEED} replays them)`);
    // A full run first: its lines are what the classes are made of.
    const server = await startFakeServer(SCRIPT);
    const dir = await makeProject(MANIFEST, { "a.txt": "alpha\n" });
    const started = Date.now();
    const full = await runPod(["run", "do the work"], { cwd: dir, env: podEnv(server.url) });
    const runMs = Date.now() - started;
    await server.close();
    expect(full.code).toBe(0);
    const classes = lineClasses(full.events);
    // Every line kind of a tool-using run, and each tool's call and result, is a class.
    expect([...classes.keys()].sort()).toEqual(
      [
        "run_start", "turn_start", "text_delta", "text_done", "tool_call_start", "tool_call_args_delta", "usage", "turn_end", "run_end",
        ...["Glob", "Read", "Edit", "Write", "Bash"].flatMap((tool) => [`tool_call_done ${tool}`, `tool_result ${tool}`]),
      ].sort(),
    );

    const trials = samplePoints(full.events, runMs, SEED);
    expect(trials).toHaveLength(classes.size + 3);
    const next = rng(SEED ^ 0x5eed);
    const total = full.events.length;
    for (let i = 0; i < RANDOM_TRIALS; i++) {
      trials.push(next() < 0.5 ? { killAfterLines: 1 + Math.floor(next() * total), point: "random line", seed: SEED } : { killAfterMs: Math.floor(next() * runMs * 1.2), point: "random time", seed: SEED });
    }
    await inParallel(trials, 4, crashTrial);
  }, 480_000);
});

describe("kill-point sampling", () => {
  it("draws one point per class and per third of the run; the seed fixes the draw", () => {
    const events = [{ type: "run_start" }, { type: "text_delta" }, { type: "text_delta" }, { type: "tool_call_done", name: "Edit" }, { type: "tool_result", name: "Edit" }, { type: "run_end" }];
    expect([...lineClasses(events)]).toEqual([["run_start", [1]], ["text_delta", [2, 3]], ["tool_call_done Edit", [4]], ["tool_result Edit", [5]], ["run_end", [6]]]);
    const a: Trial[] = samplePoints(events, 900, 7);
    expect(a.map((t) => t.point)).toEqual(["run_start", "text_delta", "tool_call_done Edit", "tool_result Edit", "run_end", "timed 1/3", "timed 2/3", "timed 3/3"]);
    expect(a[1]!.killAfterLines).toBeOneOf([2, 3]);
    const ms = a.slice(5).map((t) => t.killAfterMs!);
    ms.forEach((m, third) => expect(m >= third * 300 && m <= (third + 1) * 300, `${m} in third ${third}`).toBe(true));
    expect(samplePoints(events, 900, 7)).toEqual(a);
    // Another seed draws other points (over 20 seeds, both text_delta lines come up).
    const drawn = new Set(Array.from({ length: 20 }, (_, s) => samplePoints(events, 900, s)[1]!.killAfterLines));
    expect([...drawn].sort()).toEqual([2, 3]);
  });
});
