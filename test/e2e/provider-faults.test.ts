import { readFile } from "node:fs/promises";
import path from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import { startFakeServer, type FakeServer } from "../fake-server/server.js";
import { makeProject, manifest, ofType, podEnv, runPod, TEST_API_KEY } from "../helpers/pod-process.js";

let server: FakeServer | undefined;
afterEach(async () => {
  await server?.close();
  server = undefined;
});

const answer = { response: { content: [{ type: "text", text: "All good in the end." }], stop_reason: "end_turn" } };
// Fast retries for tests; production defaults are documented in docs/reliability.md.
const fast = { POD_RETRY_BASE_MS: "10", POD_STREAM_IDLE_TIMEOUT_MS: "1500" };

async function run(turns: object[], env: Record<string, string> = {}) {
  server = await startFakeServer({ turns });
  const dir = await makeProject(manifest({ scope: false }));
  const r = await runPod(["run", "hello"], { cwd: dir, env: podEnv(server.url, { ...fast, ...env }) });
  const status = JSON.parse(await readFile(path.join(dir, ".pod/tester/status.json"), "utf8"));
  expect(r.stdout + r.stderr).not.toContain(TEST_API_KEY);
  return { r, status, dir };
}

describe("provider faults", () => {
  it("retries an HTTP 429 with retry-after, one turn_retry line per wait, and finishes", async () => {
    const { r } = await run([{ ...answer, fault: { kind: "http", status: 429, retry_after_s: 0, times: 2 } }]);
    expect(r.code).toBe(0);
    expect(server!.requests).toHaveLength(3);
    expect(ofType(r.events, "turn_retry").map((e) => [e.attempt, e.delay_ms])).toEqual([[1, 0], [2, 0]]);
  });

  for (const kind of ["sse_error", "drop", "malformed", "stall"] as const) {
    it(`asks again after a ${kind} mid-stream and finishes`, async () => {
      const { r } = await run([{ ...answer, fault: { kind, after_events: 4, times: 1 } }]);
      expect(r.code).toBe(0);
      const retry = ofType(r.events, "turn_retry");
      expect(retry).toHaveLength(1);
      expect(retry[0]).toMatchObject({ turn: 1, attempt: 1 });
      expect(ofType(r.events, "text_done").at(-1).text).toBe("All good in the end.");
      expect(r.events.at(-1)).toMatchObject({ type: "run_end", result: "finished", turns: 1 });
    });
  }

  it("gives up after the retries with provider_error, exit 1, and a resumable pod", async () => {
    const { r, status, dir } = await run([{ ...answer, fault: { kind: "sse_error", after_events: 3, times: 3 } }], { POD_MAX_RETRIES: "2" });
    expect(r.code).toBe(1);
    expect(ofType(r.events, "turn_retry")).toHaveLength(2);
    expect(ofType(r.events, "error")[0]).toMatchObject({ code: "provider_error" });
    expect(ofType(r.events, "error")[0].message).toMatch(/overloaded_error: Overloaded \(after 3 attempts in \d+\.\ds\)/);
    expect(r.events.at(-1)).toMatchObject({ type: "run_end", result: "error" });
    expect(status).toMatchObject({ status: "paused", last_result: "error" });
    // The fault has passed: resume asks again and finishes.
    const resumed = await runPod(["resume"], { cwd: dir, env: podEnv(server!.url, fast) });
    expect(resumed.code).toBe(0);
    expect(resumed.events.at(-1)).toMatchObject({ result: "finished" });
  });

  it("does not retry a permanent error (unknown model, HTTP 404): exit 1, idle", async () => {
    const { r, status } = await run([{ ...answer, fault: { kind: "http", status: 404, times: 5 } }]);
    expect(r.code).toBe(1);
    expect(server!.requests).toHaveLength(1);
    expect(ofType(r.events, "error")[0].message).toMatch(/HTTP 404 not_found_error: model: claude-sonnet-5-5/);
    expect(status).toMatchObject({ status: "idle", last_result: "error" });
  });

  it("reports persistent overload (529) after pod's retries, each announced", async () => {
    const { r, status } = await run([{ ...answer, fault: { kind: "http", status: 529, retry_after_s: 0, times: 10 } }], { POD_MAX_RETRIES: "1" });
    expect(r.code).toBe(1);
    expect(server!.requests).toHaveLength(2);
    expect(ofType(r.events, "turn_retry")).toEqual([expect.objectContaining({ attempt: 1, reason: expect.stringContaining("HTTP 529") })]);
    expect(ofType(r.events, "error")[0].message).toMatch(/HTTP 529 overloaded_error/);
    expect(status.status).toBe("paused");
  });
});
