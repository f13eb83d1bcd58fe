import { readFile, writeFile } from "node:fs/promises";
import { afterEach, describe, expect, it } from "vitest";
import { call, calls, manifest, ofType, startInProcessPod, text, type InProcessPod } from "../helpers/in-process.js";

/**
 * `pod replay` drives the same run loop as `pod run` through the replay client
 * (src/provider/replay-client.ts): in process, a run recorded here is replayed offline.
 * test/e2e/replay.test.ts proves the same through the binary, with more cases.
 */
let pod: InProcessPod | undefined;
afterEach(async () => {
  await pod?.close();
  pod = undefined;
});

/** What must be the same in a run and its replay: every line but the envelope, times and the session. */
function shape(events: any[]): unknown[] {
  return events.filter((e) => e.type !== "run_start" && e.type !== "waiting").map(({ v: _v, seq: _s, ts: _t, session_id: _id, duration_ms: _d, ...rest }) => rest);
}

// Grep off in the manifest, not by a run flag (which a replay, taking no such flag, would not repeat).
const MANIFEST = manifest({ extra: '\n[tools]\ndisabled = ["Grep"]\n' });

async function recorded(): Promise<{ p: InProcessPod; run: any[] }> {
  pod = await startInProcessPod({
    turns: [
      calls([call("t1", "Read", { path: "a.txt" })]),
      { expect: { tool_result_for: "t1" }, ...calls([call("t2", "Write", { path: "a.txt", content: "ALPHA\n" })]) },
      { expect: { tool_result_for: "t2" }, ...text("Upper-cased it.") },
    ],
    manifest: MANIFEST,
    files: { "a.txt": "alpha\n" },
    grep: true,
  });
  const r = await pod.run("fix a.txt");
  expect(r.code).toBe(0);
  return { p: pod, run: r.events };
}

describe("pod replay, in process", () => {
  it("--tools recorded: the same events as the run, offline, the workspace untouched", async () => {
    const { p, run } = await recorded();
    await writeFile(p.path("a.txt"), "something else\n");
    const asked = p.server.requests.length;
    const replay = await p.replay(undefined, "recorded");
    expect(replay.code).toBe(0);
    expect(replay.events[0]).toMatchObject({ type: "run_start", mode: "replay", run_id: run[0].run_id });
    expect(shape(replay.events)).toEqual(shape(run));
    expect(p.server.requests).toHaveLength(asked);
    expect(await readFile(p.path("a.txt"), "utf8")).toBe("something else\n");
  });

  it("--tools live: the tools run again on the workspace, into a session of the replay's own", async () => {
    const { p, run } = await recorded();
    await writeFile(p.path("a.txt"), "alpha\n");
    const status = await p.status();
    const replay = await p.replay();
    expect(replay.code).toBe(0);
    expect(shape(replay.events)).toEqual(shape(run));
    expect(await readFile(p.path("a.txt"), "utf8")).toBe("ALPHA\n");
    expect(replay.events[0].session_id).not.toBe(run[0].session_id);
    expect(await p.status()).toEqual(status);
  });

  it("diverged (exit 1) at the turn whose request differs: a file the model read has changed", async () => {
    const { p } = await recorded();
    await writeFile(p.path("a.txt"), "beta\n");
    const replay = await p.replay();
    expect(replay.code).toBe(1);
    expect(ofType(replay.events, "error")).toEqual([expect.objectContaining({ code: "diverged", message: expect.stringMatching(/diverged at turn 2/) })]);
    // The Write of turn 2 never ran.
    expect(ofType(replay.events, "tool_result").map((e) => e.name)).toEqual(["Read"]);
    expect(await readFile(p.path("a.txt"), "utf8")).toBe("beta\n");
  });
});
