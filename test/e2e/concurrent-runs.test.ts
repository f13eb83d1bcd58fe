import { afterEach, describe, expect, it } from "vitest";
import { startFakeServer, type FakeServer } from "../fake-server/server.js";
import { collect, makeProject, manifest, podEnv, runPod, spawnPod, type PodResult } from "../helpers/pod-process.js";
import { textTurn } from "../helpers/turns.js";
import { until } from "../helpers/wait.js";

/**
 * Runs on one pod at the same time (docs/reliability.md, "Concurrency"). The model's
 * answer is held at the fake server (its `gate`) until the test has seen what it needs,
 * so the run that won the lock is still running then however slow the machine is.
 */
let server: FakeServer | undefined;
afterEach(async () => {
  await server?.close();
  server = undefined;
});

/** A gate for startFakeServer and the function that opens it. */
function gate(): { gate: Promise<void>; open: () => void } {
  let open!: () => void;
  const g = new Promise<void>((resolve) => (open = resolve));
  return { gate: g, open };
}

describe("concurrency", () => {
  it("8 runs started at once: exactly one runs, 7 exit 3 with already_running", async () => {
    const held = gate();
    server = await startFakeServer({ turns: [textTurn("only one of us runs")] }, { gate: held.gate });
    const dir = await makeProject(manifest({ scope: false }));
    const env = podEnv(server.url);
    const ended: PodResult[] = [];
    const children = Array.from({ length: 8 }, (_, i) => collect(spawnPod(["run", `racer ${i}`], { cwd: dir, env }), ["run"]).then((r) => (ended.push(r), r)));
    // The winner waits for its answer: the other 7 must all be refused meanwhile (or a
    // second one reaches the model, which is the failure this test is for).
    await until(() => ended.length >= 7 || server!.requests.length >= 2);
    held.open();
    const results = await Promise.all(children);
    const codes = results.map((r) => r.code).sort();
    expect(codes).toEqual([0, 3, 3, 3, 3, 3, 3, 3]);
    for (const r of results.filter((r) => r.code === 3)) {
      expect(r.events).toEqual([expect.objectContaining({ type: "error", code: "already_running" })]);
    }
    expect(server.requests).toHaveLength(1);
    const history = await runPod(["history"], { cwd: dir, env });
    expect(history.events.map((m) => m.role)).toEqual(["user", "assistant"]);
  });

  it("pod status and pod history work while a run holds the lock", async () => {
    const held = gate();
    server = await startFakeServer({ turns: [textTurn("slow ".repeat(100))] }, { gate: held.gate });
    const dir = await makeProject(manifest({ scope: false }));
    const env = podEnv(server.url);
    const child = spawnPod(["run", "take your time"], { cwd: dir, env });
    const done = collect(child, ["run"]);
    // The run has asked the model and waits for the answer, holding the lock.
    await until(() => server!.requests.length === 1);
    const status = await runPod(["status"], { cwd: dir, env });
    expect(status.code).toBe(0);
    expect(status.events[0]).toMatchObject({ status: "running", pid: child.pid });
    const history = await runPod(["history"], { cwd: dir, env });
    expect(history.code).toBe(0);
    expect(history.events[0].content[0].text).toBe("take your time");
    held.open();
    expect((await done).code).toBe(0);
  });
});
