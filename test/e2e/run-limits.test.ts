import { afterEach, describe, expect, it } from "vitest";
import { startFakeServer, type FakeServer } from "../fake-server/server.js";
import { apiHistoryProblems } from "../helpers/api-history.js";
import { makeProject, manifest, ofType, podEnv, readStatus, runPod } from "../helpers/pod-process.js";
import { after, call, textTurn, toolsTurn, toolTurn, usage } from "../helpers/turns.js";

/** --max-budget-usd and --timeout: where a run stops, and that a later run or resume continues. */

let server: FakeServer | undefined;
afterEach(async () => {
  await server?.close();
  server = undefined;
});

describe("budget and time limits", () => {
  it("stops before the request that would exceed the budget (exit 11, limit budget); a later run continues", async () => {
    server = await startFakeServer({
      turns: [toolTurn("toolu_1", "Read", { path: "a.txt" }, { usage: usage(100, 20) }), textTurn("Finished.", after("toolu_1"))],
    });
    // [pricing] makes each turn cost $1 (100 input tokens at $10000 per million): priced by the override, not the table.
    const dir = await makeProject(manifest({ extra: '\n[pricing."claude-sonnet-5-5"]\ninput = 10000\noutput = 0\n' }), { "a.txt": "a\n" });
    const env = podEnv(server.url);
    const r = await runPod(["run", "read a", "--max-budget-usd", "0.5"], { cwd: dir, env });
    expect(r.code).toBe(11);
    expect(r.events.at(-1)).toMatchObject({ type: "run_end", result: "limit_reached", limit: "budget", turns: 1, cost_usd: 1 });
    expect(server.requests).toHaveLength(1);
    expect(await readStatus(dir)).toMatchObject({ status: "idle", last_result: "limit_reached" });

    const next = await runPod(["run", "go on"], { cwd: dir, env });
    expect(next.code).toBe(0);
    expect(server.mismatches).toEqual([]);
    expect(apiHistoryProblems(server.requests[1]!.body.messages)).toEqual([]);
  });

  it("on --timeout, a running Bash call is stopped and the calls after it are not run; history stays consistent", async () => {
    // The sleep is longer than the test's timeout: the run ends in time only if --timeout stops it.
    const twoCalls = toolsTurn([call("toolu_sleep", "Bash", { command: "sleep 300" }), call("toolu_after", "Read", { path: "a.txt" })]);
    server = await startFakeServer({ turns: [twoCalls, textTurn("Picked up.", after("toolu_after"))] });
    const dir = await makeProject(manifest({ extra: '\n[tools.bash]\nenabled = true\nallow = ["sleep *"]\nsandbox = "off"\n' }), { "a.txt": "a\n" });
    const env = podEnv(server.url);
    const r = await runPod(["run", "sleep then read", "--timeout", "2s"], { cwd: dir, env });
    expect(r.code).toBe(11);
    expect(r.events.at(-1)).toMatchObject({ result: "limit_reached", limit: "time", turns: 1 });
    const results = ofType(r.events, "tool_result");
    expect(results.map((e) => [e.id, e.is_error])).toEqual([
      ["toolu_sleep", true],
      ["toolu_after", true],
    ]);
    expect(results[1].output).toMatch(/^Not run/);
    expect(await readStatus(dir)).toMatchObject({ status: "paused", last_result: "limit_reached" });

    const resumed = await runPod(["resume"], { cwd: dir, env });
    expect(resumed.code).toBe(0);
    expect(server.mismatches).toEqual([]);
    expect(apiHistoryProblems(server.requests[1]!.body.messages)).toEqual([]);
  });

  it("refuses a budget for a model without a price (exit 2, nothing run)", async () => {
    const dir = await makeProject(manifest({ scope: false }).replace('model = "claude-sonnet-5-5"', 'model = "mystery-model"'));
    const r = await runPod(["run", "x", "--max-budget-usd", "1"], { cwd: dir, env: podEnv("http://127.0.0.1:9") });
    expect(r.code).toBe(2);
    expect(r.events).toMatchObject([{ type: "error", code: "invalid_input" }]);
    expect(r.events[0].message).toContain('[pricing."mystery-model"]');
  });

  it("stops a run that outlasts --timeout as a cancel would (exit 11, limit time, paused) and resume finishes it", async () => {
    // The first response stalls forever; the retry after resume is answered.
    server = await startFakeServer({ turns: [textTurn("Resumed fine.", { fault: { kind: "stall", after_events: 2 } })] });
    const dir = await makeProject(manifest({ scope: false }));
    const env = podEnv(server.url);
    // The stall never ends: the run ends (within the test's timeout) only by --timeout.
    const r = await runPod(["run", "slow task", "--timeout", "1500ms"], { cwd: dir, env });
    expect(r.code).toBe(11);
    expect(r.events.at(-1)).toMatchObject({ type: "run_end", result: "limit_reached", limit: "time", turns: 0 });
    // The in-flight stream was dropped: the history ends with the prompt, and the pod is resumable.
    expect(await readStatus(dir)).toMatchObject({ status: "paused", last_result: "limit_reached" });
    const history = await runPod(["history"], { cwd: dir, env });
    expect(history.events.map((m) => m.role)).toEqual(["user"]);

    const resumed = await runPod(["resume"], { cwd: dir, env });
    expect(resumed.code).toBe(0);
    expect(resumed.events.at(-1)).toMatchObject({ result: "finished", turns: 1 });
  });
});
