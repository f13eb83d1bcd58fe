import { spawnSync } from "node:child_process";
import { existsSync, readdirSync, readFileSync } from "node:fs";
import { readFile, writeFile } from "node:fs/promises";
import path from "node:path";
import { describe, expect, it } from "vitest";
import { startFakeServer } from "../fake-server/server.js";
import { makeProject, manifest, ofType, parseJsonl, POD_BIN, podEnv, runPod, spawnPod, TEST_API_KEY } from "../helpers/pod-process.js";

/**
 * Recorded runs (issue 24): every run of the real binary against the fake server is
 * recorded, and `pod replay` drives it again with no key and no network, through the same
 * run loop, stopping with `diverged` at the first request that differs.
 */
const usage = { input_tokens: 10, output_tokens: 5, cache_read_input_tokens: 0, cache_creation_input_tokens: 0 };
const say = (text: string, call?: { id: string; name: string; input: object }) => ({
  response: { content: [{ type: "text", text }, ...(call ? [{ type: "tool_use", ...call }] : [])], stop_reason: call ? "tool_use" : "end_turn", usage },
});
const SCRIPT = {
  turns: [
    say("Looking around.", { id: "t1", name: "Glob", input: { pattern: "*.txt" } }),
    say("Reading a.txt.", { id: "t2", name: "Read", input: { path: "a.txt" } }),
    say("Fixing it.", { id: "t3", name: "Edit", input: { path: "a.txt", old_string: "alpha", new_string: "ALPHA" } }),
    say("Done: a.txt now says ALPHA."),
  ],
};
/** No key, and a base URL where nothing listens: a replay must need neither. */
const OFFLINE = { ANTHROPIC_API_KEY: undefined, ANTHROPIC_AUTH_TOKEN: undefined, ANTHROPIC_BASE_URL: "http://127.0.0.1:9" };

/** What must be the same in a run and its replay: every line but the envelope, times and the session. */
function shape(events: any[]): unknown[] {
  return events
    .filter((e) => e.type !== "run_start" && e.type !== "waiting")
    .map(({ v: _v, seq: _s, ts: _t, session_id: _id, duration_ms: _d, ...rest }) => rest);
}

async function recordedRun(files: Record<string, string> = { "a.txt": "alpha\n" }, extra = "") {
  const server = await startFakeServer(SCRIPT);
  const dir = await makeProject(manifest({ extra }), files);
  const run = await runPod(["run", "fix a.txt"], { cwd: dir, env: podEnv(server.url) });
  await server.close();
  expect(run.code, run.stderr).toBe(0);
  expect(server.mismatches).toEqual([]);
  return { dir, run, runId: run.events[0].run_id as string };
}

describe("recorded runs and pod replay (real binary, fake server)", () => {
  it("records every run: run_start.run_id names runs/<run_id>/ with the requests, the raw responses and the tool results", async () => {
    const { dir, run, runId } = await recordedRun();
    expect(run.events[0]).toMatchObject({ type: "run_start", mode: "run" });
    expect(runId).toMatch(/^\d{8}T\d{6}Z-[0-9a-f]{6}$/);
    const rdir = path.join(dir, ".pod/tester/runs", runId);
    expect(readdirSync(rdir).sort()).toEqual(["history.jsonl", "records.jsonl", "run.json"]);
    const meta = JSON.parse(readFileSync(path.join(rdir, "run.json"), "utf8"));
    const end = run.events.at(-1);
    expect(meta).toMatchObject({ run_id: runId, session_id: run.events[0].session_id, mode: "run", model: "claude-sonnet-5-5", input: "fix a.txt", start: { turn: 0 } });
    // The run_end body, as printed.
    const { v: _v, seq: _s, ts: _t, session_id: _id, type: _type, ...endBody } = end;
    expect(meta.end).toEqual(endBody);
    const records = readFileSync(path.join(rdir, "records.jsonl"), "utf8").trim().split("\n").map((l) => JSON.parse(l));
    expect(records.filter((r) => r.kind === "request")).toHaveLength(4);
    // Each response's SSE events as the SDK read them off the wire (it drops only pings), message_start to message_stop.
    const responses = records.filter((r) => r.kind === "response");
    expect(responses).toHaveLength(4);
    for (const r of responses) {
      expect(r.events[0].type).toBe("message_start");
      expect(r.events.at(-1).type).toBe("message_stop");
      expect(r.events.filter((e: any) => e.type === "content_block_delta").length).toBeGreaterThan(1);
    }
    expect(records.filter((r) => r.kind === "tool_result").map((r) => [r.name, r.is_error])).toEqual([
      ["Glob", false],
      ["Read", false],
      ["Edit", false],
    ]);
    // No credential, no header anywhere in the recording.
    const all = readdirSync(rdir).map((f) => readFileSync(path.join(rdir, f), "utf8")).join("\n");
    expect(all).not.toContain(TEST_API_KEY);
    expect(all.toLowerCase()).not.toContain("x-api-key");
  });

  it("replays with the tools live: the same event stream, the tools run again, no key, no network, the pod's state untouched", async () => {
    const { dir, run, runId } = await recordedRun();
    expect(await readFile(path.join(dir, "a.txt"), "utf8")).toBe("ALPHA\n");
    await writeFile(path.join(dir, "a.txt"), "alpha\n");
    const podDir = path.join(dir, ".pod/tester");
    const status = readFileSync(path.join(podDir, "status.json"), "utf8");
    const session = readFileSync(path.join(podDir, "sessions", `${run.events[0].session_id}.jsonl`), "utf8");

    const replay = await runPod(["replay"], { cwd: dir, env: podEnv(undefined, OFFLINE) });
    expect(replay.code, replay.stdout + replay.stderr).toBe(0);
    expect(replay.events[0]).toMatchObject({ type: "run_start", mode: "replay", run_id: runId, input: "fix a.txt" });
    expect(shape(replay.events)).toEqual(shape(run.events));
    // The Edit ran again on the workspace.
    expect(await readFile(path.join(dir, "a.txt"), "utf8")).toBe("ALPHA\n");
    // Into a session of its own: the pod's status and session are byte for byte as they were.
    expect(replay.events[0].session_id).not.toBe(run.events[0].session_id);
    expect(readFileSync(path.join(podDir, "status.json"), "utf8")).toBe(status);
    expect(readFileSync(path.join(podDir, "sessions", `${run.events[0].session_id}.jsonl`), "utf8")).toBe(session);
    expect(readdirSync(path.join(podDir, "sessions"))).toHaveLength(1);
    expect(existsSync(path.join(podDir, "replays", `${replay.events[0].session_id}.jsonl`))).toBe(true);
  });

  it("replays with the tools recorded: the same events, and nothing on the workspace is touched", async () => {
    const { dir, run } = await recordedRun();
    await writeFile(path.join(dir, "a.txt"), "something else entirely\n");
    const replay = await runPod(["replay", "--tools", "recorded"], { cwd: dir, env: podEnv(undefined, OFFLINE) });
    expect(replay.code, replay.stdout + replay.stderr).toBe(0);
    expect(shape(replay.events)).toEqual(shape(run.events));
    expect(await readFile(path.join(dir, "a.txt"), "utf8")).toBe("something else entirely\n");
  });

  it("stops with diverged (exit 1) when a file the model read has changed, naming the turn, the message, the block and the line", async () => {
    const { dir } = await recordedRun({ "a.txt": "alpha\nsecond line\n" });
    await writeFile(path.join(dir, "a.txt"), "alpha\nsecond line, changed\n");
    const replay = await runPod(["replay"], { cwd: dir, env: podEnv(undefined, OFFLINE) });
    expect(replay.code).toBe(1);
    const err = ofType(replay.events, "error");
    expect(err).toHaveLength(1);
    expect(err[0].code).toBe("diverged");
    // Turn 3's request carries the Read result of turn 2.
    expect(err[0].message).toMatch(/diverged at turn 3/);
    expect(err[0].message).toMatch(/message 5 of 5 \(user\), block 1 \(the result of the Read call t2\)/);
    expect(err[0].message).toContain('line 2: - "     2\\tsecond line" + "     2\\tsecond line, changed"');
    expect(replay.events.at(-1)).toMatchObject({ type: "run_end", result: "error" });
    // The turns before the difference were replayed; the Edit of turn 3 never ran.
    expect(ofType(replay.events, "tool_result").map((e) => e.name)).toEqual(["Glob", "Read"]);
    expect(await readFile(path.join(dir, "a.txt"), "utf8")).toBe("alpha\nsecond line, changed\n");
    expect(replay.stderr).toContain("diverged at turn 3");
  });

  it("as a regression test of a system-prompt change: exit 1 at turn 1, the prompt's first differing line shown", async () => {
    const { dir } = await recordedRun();
    const toml = path.join(dir, "pod.toml");
    await writeFile(toml, (await readFile(toml, "utf8")).replace('system_prompt = "You fix code."', 'system_prompt = "You fix code carefully."'));
    const replay = await runPod(["replay", "--tools", "recorded"], { cwd: dir, env: podEnv(undefined, OFFLINE) });
    expect(replay.code).toBe(1);
    const err = ofType(replay.events, "error")[0];
    expect(err.code).toBe("diverged");
    expect(err.message).toContain('diverged at turn 1: the request differs from the recorded one (request 1): the system prompt differs: line 1: - "You fix code." + "You fix code carefully."');
    expect(ofType(replay.events, "turn_end")).toHaveLength(0);
  });

  it("replays a run by id after its session was continued and compacted", async () => {
    const { dir, run, runId } = await recordedRun();
    await writeFile(path.join(dir, "a.txt"), "alpha\n");
    const more = await startFakeServer({
      turns: [say("Second task done."), { response: { content: [{ type: "text", text: "Summary: a.txt was fixed." }], stop_reason: "end_turn", usage } }],
    });
    const env = podEnv(more.url);
    expect((await runPod(["run", "anything else?"], { cwd: dir, env })).code).toBe(0);
    const compact = await runPod(["compact"], { cwd: dir, env: podEnv(more.url) });
    await more.close();
    expect(compact.code, compact.stdout).toBe(0);
    expect(ofType(compact.events, "compaction")).toHaveLength(1);
    const replay = await runPod(["replay", runId], { cwd: dir, env: podEnv(undefined, OFFLINE) });
    expect(replay.code, replay.stdout).toBe(0);
    expect(shape(replay.events)).toEqual(shape(run.events));
  });

  it("replays a run made with the built-in prompt in another directory (another workspace path, runtime dir elsewhere): the recorded facts stand", async () => {
    const server = await startFakeServer(SCRIPT);
    const builtIn = manifest().replace('system_prompt = "You fix code."\n', "");
    const one = await makeProject(builtIn, { "a.txt": "alpha\n" });
    const run = await runPod(["run", "fix a.txt"], { cwd: one, env: podEnv(server.url) });
    await server.close();
    expect(run.code).toBe(0);
    const first = JSON.parse(readFileSync(path.join(one, ".pod/tester/runs", run.events[0].run_id, "records.jsonl"), "utf8").split("\n")[0]!);
    expect(first.body.system[0].text).toContain(`Workspace root: ${one}`);
    const bundle = path.join(one, "pod.tar.gz");
    expect((await runPod(["export", "-o", bundle], { cwd: one, env: podEnv(undefined, OFFLINE) })).code).toBe(0);
    const two = await makeProject(builtIn, { "a.txt": "alpha\n" });
    const elsewhere = path.join(two, "state");
    const env = podEnv(undefined, { ...OFFLINE, POD_RUNTIME_DIR: elsewhere });
    expect((await runPod(["import", bundle], { cwd: two, env })).code).toBe(0);
    const replay = await runPod(["replay"], { cwd: two, env });
    expect(replay.code, replay.stdout).toBe(0);
    expect(shape(replay.events)).toEqual(shape(run.events));
    expect(await readFile(path.join(two, "a.txt"), "utf8")).toBe("ALPHA\n");
    // What the operator controls still counts: an instruction file added since diverges at turn 1.
    await writeFile(path.join(two, "AGENTS.md"), "Always add tests.\n");
    const changed = await runPod(["replay", "--tools", "recorded"], { cwd: two, env });
    expect(changed.code).toBe(1);
    expect(ofType(changed.events, "error")[0].message).toMatch(/diverged at turn 1: .*the system prompt differs/);
  });

  it("replays a --review run (pod's findings schema and review prompt rebuilt) and a --output-schema run (the recorded schema) to the same output", async () => {
    const final = (input: object) => ({ response: { content: [{ type: "tool_use", id: "f1", name: "final_answer", input }], stop_reason: "tool_use", usage } });
    const findings = { summary: "One problem.", findings: [{ path: "a.txt", line: 1, severity: "warning", message: "Shouting." }] };
    const server = await startFakeServer({ turns: [final(findings), final({ verdict: "ok" })] });
    const dir = await makeProject(manifest().replace('system_prompt = "You fix code."\n', ""), { "a.txt": "ALPHA\n", "verdict.json": JSON.stringify({ type: "object", properties: { verdict: { enum: ["ok", "bad"] } }, required: ["verdict"] }) });
    const review = await runPod(["run", "review a.txt", "--review"], { cwd: dir, env: podEnv(server.url) });
    const schema = await runPod(["run", "judge it", "--output-schema", "verdict.json"], { cwd: dir, env: podEnv(server.url) });
    await server.close();
    expect([review.code, schema.code]).toEqual([0, 0]);
    await writeFile(path.join(dir, "verdict.json"), "{ this file is gone }");
    for (const r of [review, schema]) {
      const replay = await runPod(["replay", r.events[0].run_id, "--tools", "recorded"], { cwd: dir, env: podEnv(undefined, OFFLINE) });
      expect(replay.code, replay.stdout).toBe(0);
      expect(replay.events.at(-1).output).toEqual(r.events.at(-1).output);
      expect(shape(replay.events)).toEqual(shape(r.events));
    }
  });

  it("a run cut by kill -9 replays up to its last completed turn, then stops as a cancel would (paused, exit 10)", async () => {
    const slow = { delivery: { delay_ms: 40, chunk_bytes: 40, text_split: 4 } };
    const server = await startFakeServer({ turns: SCRIPT.turns.map((t) => ({ ...t, ...slow })) });
    const dir = await makeProject(manifest(), { "a.txt": "alpha\n" });
    const child = spawnPod(["run", "fix a.txt"], { cwd: dir, env: podEnv(server.url) });
    let out = "";
    const killed = new Promise<void>((resolve) => {
      child.stdout!.on("data", (d: Buffer) => {
        out += d.toString();
        // Killed in the middle of turn 3's response, after turn 2 completed.
        const turn3 = out.indexOf('"type":"turn_start","turn":3');
        if (turn3 >= 0 && out.indexOf('"type":"text_delta"', turn3) >= 0) child.kill("SIGKILL");
      });
      child.on("close", () => resolve());
    });
    await killed;
    await server.close();
    const seen = parseJsonl(out.slice(0, out.lastIndexOf("\n") + 1));
    expect(seen.some((e) => e.type === "run_end")).toBe(false);
    expect(ofType(seen, "turn_end").map((e) => e.turn)).toEqual([1, 2]);
    const runId = seen[0].run_id;

    await writeFile(path.join(dir, "a.txt"), "alpha\n");
    const replay = await runPod(["replay", "--tools", "recorded"], { cwd: dir, env: podEnv(undefined, OFFLINE) });
    expect(replay.code, replay.stdout).toBe(10);
    expect(replay.events[0]).toMatchObject({ type: "run_start", mode: "replay", run_id: runId });
    expect(replay.events[0].warnings.join(" ")).toContain("has no end");
    expect(ofType(replay.events, "turn_end").map((e) => e.turn)).toEqual([1, 2]);
    expect(ofType(replay.events, "tool_result").map((e) => [e.id, e.output])).toEqual(ofType(seen, "tool_result").map((e) => [e.id, e.output]));
    expect(replay.events.at(-1)).toMatchObject({ type: "run_end", result: "paused" });
    expect(ofType(replay.events, "error")).toEqual([]);
    // pod runs shows it without an end.
    const runs = await runPod(["runs"], { cwd: dir, env: podEnv(undefined, OFFLINE) });
    expect(parseJsonl(runs.stdout)).toEqual([expect.objectContaining({ run_id: runId, result: null, turns: 2, cost_usd: null, ended_at: null })]);
  });

  it("keeps the last [pod] keep_runs recordings; pod runs lists them as JSON lines and as a table", async () => {
    const server = await startFakeServer({ turns: [say("one"), say("two"), say("three")] });
    const dir = await makeProject(manifest().replace("max_turns = 10", "max_turns = 10\nkeep_runs = 2"));
    const env = podEnv(server.url);
    const ids: string[] = [];
    for (const p of ["first", "second", "third"]) {
      const r = await runPod(["run", p], { cwd: dir, env });
      expect(r.code).toBe(0);
      ids.push(r.events[0].run_id);
    }
    await server.close();
    expect(new Set(ids).size).toBe(3);
    expect(readdirSync(path.join(dir, ".pod/tester/runs")).sort()).toEqual(ids.slice(1).sort());
    const runs = await runPod(["runs"], { cwd: dir, env });
    expect(runs.code).toBe(0);
    const rows = parseJsonl(runs.stdout);
    expect(rows.map((r) => r.run_id)).toEqual(ids.slice(1));
    for (const r of rows) {
      expect(Object.keys(r).sort()).toEqual(["cost_usd", "ended_at", "mode", "model", "result", "run_id", "session_id", "started_at", "turns"]);
      expect(r).toMatchObject({ mode: "run", result: "finished", turns: 1, model: "claude-sonnet-5-5" });
      expect(r.cost_usd).toBeGreaterThan(0);
    }
    const table = spawnSync(process.execPath, [POD_BIN, "runs", "--format", "pretty"], { cwd: dir, env: env as NodeJS.ProcessEnv, encoding: "utf8" });
    expect(table.status).toBe(0);
    const lines = table.stdout.trim().split("\n");
    expect(lines[0]).toMatch(/^RUN\s+SESSION\s+MODE\s+RESULT\s+TURNS\s+COST\s+STARTED$/);
    expect(lines.slice(1).map((l) => l.split(/\s+/)[0])).toEqual(ids.slice(1));
    expect(lines[1]).toContain("finished");
    // Replaying a pruned run is not_found (exit 2), named.
    const gone = await runPod(["replay", ids[0]!], { cwd: dir, env });
    expect(gone.code).toBe(2);
    expect(ofType(gone.events, "error")[0]).toMatchObject({ code: "not_found" });
  });

  it("keep_runs is validated like every manifest key", async () => {
    const dir = await makeProject(manifest().replace("max_turns = 10", "max_turns = 10\nkeep_runs = -1"));
    const r = await runPod(["run", "x"], { cwd: dir, env: podEnv(undefined, OFFLINE) });
    expect(r.code).toBe(2);
    expect(ofType(r.events, "error")[0]).toMatchObject({ code: "invalid_manifest" });
    expect(ofType(r.events, "error")[0].message).toContain("keep_runs");
  });

  it("secrets in what a tool read are redacted in the recording too", async () => {
    const secret = "ghp_live_token_value_0123456789";
    const server = await startFakeServer({ turns: [say("Reading.", { id: "t1", name: "Read", input: { path: "a.txt" } }), say(`It holds a token.`)] });
    const dir = await makeProject(manifest(), { "a.txt": `token=${secret}\n` });
    const r = await runPod(["run", "read a.txt"], { cwd: dir, env: podEnv(server.url, { GITHUB_TOKEN: secret }) });
    await server.close();
    expect(r.code).toBe(0);
    const rdir = path.join(dir, ".pod/tester/runs", r.events[0].run_id);
    const all = readdirSync(rdir).map((f) => readFileSync(path.join(rdir, f), "utf8")).join("\n");
    expect(all).toContain("token=[redacted]");
    expect(all).not.toContain(secret);
  });
});
