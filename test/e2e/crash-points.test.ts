import { describe, expect, it } from "vitest";
import { startFakeServer } from "../fake-server/server.js";
import { crashTrial, inParallel, MANIFEST, SCRIPT, type Trial } from "../helpers/crash-trial.js";
import { makeProject, podEnv, runPod } from "../helpers/pod-process.js";

describe("kill -9 at many points of a run", () => {
  it("never corrupts state, loses a completed turn, or breaks the API history (60 kill points)", async () => {
    // A full run prints this many lines; kill after each of 1..total-1 (capped at 52), plus timed kills.
    const server = await startFakeServer(SCRIPT);
    const dir = await makeProject(MANIFEST, { "a.txt": "alpha\n" });
    const full = await runPod(["run", "do the work"], { cwd: dir, env: podEnv(server.url) });
    await server.close();
    expect(full.code).toBe(0);
    const total = full.events.length;
    expect(total).toBeGreaterThan(50);
    const step = Math.max(1, Math.floor(total / 52));
    const trials: Trial[] = [];
    for (let n = 1; n < total && trials.length < 52; n += step) trials.push({ killAfterLines: n });
    for (const ms of [40, 80, 120, 160, 200, 260, 320, 400]) trials.push({ killAfterMs: ms });
    expect(trials.length).toBeGreaterThanOrEqual(50);
    await inParallel(trials, 4, crashTrial);
    // A hang guard, not a speed target: ~110 s alone on 2 cores (each trial starts several
    // pod processes, each now probing the Bash sandbox), 170 s on a loaded machine.
  }, 480_000);
});
