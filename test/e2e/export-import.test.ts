import { spawnSync } from "node:child_process";
import { existsSync, readdirSync } from "node:fs";
import { cp, mkdtemp, readFile, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import path from "node:path";
import { describe, expect, it } from "vitest";
import { startFakeServer } from "../fake-server/server.js";
import { apiHistoryProblems } from "../helpers/api-history.js";
import { collect, makeProject, manifest, ofType, parseJsonl, podEnv, runPod, spawnPod } from "../helpers/pod-process.js";
import { call, textTurn, toolsTurn, usage } from "../helpers/turns.js";

/**
 * `pod export` / `pod import` (issue 24, item 4): a paused pod exported in one CI job and
 * imported in the next, another directory at another absolute path, is approved there.
 */
// The shared turn builders (test/helpers/turns.ts), with the usage every turn here reports.
const calls = (...blocks: object[]) => toolsTurn(blocks, { usage: usage() });
const use = call;
const text = (t: string, expect?: Record<string, unknown>) => textTurn(t, { usage: usage(), ...(expect ? { expect } : {}) });
const ASK_EDIT = manifest({ extra: '\n[tools]\nask = ["Edit"]\n' });
const OFFLINE = { ANTHROPIC_API_KEY: undefined, ANTHROPIC_BASE_URL: "http://127.0.0.1:9" };

/** "Job 1": a run that pauses for approval of an Edit of a file it read, then the export. */
async function job1() {
  const server = await startFakeServer({ turns: [calls(use("toolu_read", "Read", { path: "a.txt" })), calls(use("toolu_edit", "Edit", { path: "a.txt", old_string: "hello", new_string: "goodbye" }))] });
  const dir = await makeProject(ASK_EDIT, { "a.txt": "hello\nworld\n" });
  const paused = await runPod(["run", "change hello to goodbye"], { cwd: dir, env: podEnv(server.url) });
  await server.close();
  expect(paused.code).toBe(10);
  const bundle = path.join(await mkdtemp(path.join(tmpdir(), "pod-artifact-")), "pod-state.tar.gz");
  const exported = await runPod(["export", "-o", bundle], { cwd: dir, env: podEnv(undefined, OFFLINE) });
  expect(exported.code, exported.stdout + exported.stderr).toBe(0);
  expect(parseJsonl(exported.stdout)).toEqual([expect.objectContaining({ exported: bundle, pod: "tester", sessions: 1, runs: 1 })]);
  // A standard archive: the system's tar reads it.
  const listed = spawnSync("tar", ["tzf", bundle], { encoding: "utf8" });
  expect(listed.status, listed.stderr).toBe(0);
  expect(listed.stdout.trim().split("\n")).toEqual(expect.arrayContaining(["bundle.json", "pod/manifest.toml", "pod/status.json", `pod/sessions/${paused.events[0].session_id}.jsonl`, `pod/runs/${paused.events[0].run_id}/records.jsonl`]));
  return { dir, bundle, paused };
}

/** "Job 2": a fresh checkout of the same repository somewhere else. */
async function checkout(from: string): Promise<string> {
  const dir = await mkdtemp(path.join(tmpdir(), "pod-job2-"));
  await cp(path.join(from, "pod.toml"), path.join(dir, "pod.toml"));
  await writeFile(path.join(dir, "a.txt"), "hello\nworld\n");
  return dir;
}

describe("pod export / pod import across two directories", () => {
  it("a paused pod imported into another directory is approved there, and its recorded run replays there", async () => {
    const { dir: one, bundle, paused } = await job1();
    const two = await checkout(one);
    const imported = await runPod(["import", bundle], { cwd: two, env: podEnv(undefined, OFFLINE) });
    expect(imported.code, imported.stdout + imported.stderr).toBe(0);
    expect(parseJsonl(imported.stdout)).toEqual([expect.objectContaining({ pod: "tester", sessions: 1, runs: 1, status: "paused", session_id: paused.events[0].session_id })]);
    // Nothing in it names the first directory as something to use.
    const status = await runPod(["status"], { cwd: two, env: podEnv(undefined, OFFLINE) });
    expect(JSON.parse(status.stdout)).toMatchObject({ status: "paused", pending: { id: "toolu_edit", name: "Edit" } });

    const server = await startFakeServer({ turns: [text("Changed it.", { tool_result_for: "toolu_edit" })] });
    const approved = await runPod(["resume", "--approve"], { cwd: two, env: podEnv(server.url) });
    await server.close();
    expect(approved.code, approved.stdout).toBe(0);
    expect(ofType(approved.events, "tool_result")).toEqual([expect.objectContaining({ id: "toolu_edit", is_error: false })]);
    expect(await readFile(path.join(two, "a.txt"), "utf8")).toBe("goodbye\nworld\n");
    expect(await readFile(path.join(one, "a.txt"), "utf8")).toBe("hello\nworld\n");
    for (const r of server.requests) expect(apiHistoryProblems(r.body.messages)).toEqual([]);
    expect(server.mismatches).toEqual([]);

    // Both runs are recorded here now; the first one (from job 1) replays offline in job 2's directory.
    const runs = parseJsonl((await runPod(["runs"], { cwd: two, env: podEnv(undefined, OFFLINE) })).stdout);
    expect(runs.map((r) => [r.run_id === paused.events[0].run_id, r.mode, r.result])).toEqual([
      [true, "run", "paused"],
      [false, "resume", "finished"],
    ]);
    await writeFile(path.join(two, "a.txt"), "hello\nworld\n");
    const replay = await runPod(["replay", paused.events[0].run_id], { cwd: two, env: podEnv(undefined, OFFLINE) });
    expect(replay.code, replay.stdout).toBe(10);
    expect(replay.events.at(-1)).toMatchObject({ type: "run_end", result: "paused", pending: [expect.objectContaining({ id: "toolu_edit" })] });
    // And the approval run replays from its own recording (the approved Edit runs again).
    const resumeReplay = await runPod(["replay", runs[1].run_id], { cwd: two, env: podEnv(undefined, OFFLINE) });
    expect(resumeReplay.code, resumeReplay.stdout).toBe(0);
    expect(ofType(resumeReplay.events, "tool_result")).toEqual([expect.objectContaining({ id: "toolu_edit", is_error: false })]);
  });

  it("refuses to overwrite a pod whose history went on (without --force), and with --force keeps what it replaced", async () => {
    const { dir: one, bundle } = await job1();
    const two = await checkout(one);
    expect((await runPod(["import", bundle], { cwd: two, env: podEnv(undefined, OFFLINE) })).code).toBe(0);
    // The same bundle again: nothing changed here, so it is a no-op import, not a conflict.
    expect((await runPod(["import", bundle], { cwd: two, env: podEnv(undefined, OFFLINE) })).code).toBe(0);
    const server = await startFakeServer({ turns: [text("Changed it.")] });
    expect((await runPod(["resume", "--approve"], { cwd: two, env: podEnv(server.url) })).code).toBe(0);
    await server.close();
    const podDir = path.join(two, ".pod/tester");
    const before = await readFile(path.join(podDir, "status.json"), "utf8");

    const refused = await runPod(["import", bundle], { cwd: two, env: podEnv(undefined, OFFLINE) });
    expect(refused.code).toBe(2);
    const err = ofType(refused.events, "error")[0];
    expect(err.code).toBe("invalid_input");
    expect(err.message).toContain("would lose turns");
    expect(err.message).toContain("--force");
    expect(await readFile(path.join(podDir, "status.json"), "utf8")).toBe(before);

    const forced = await runPod(["import", bundle, "--force"], { cwd: two, env: podEnv(undefined, OFFLINE) });
    expect(forced.code, forced.stdout).toBe(0);
    expect(JSON.parse(await readFile(path.join(podDir, "status.json"), "utf8"))).toMatchObject({ status: "paused" });
    expect(readdirSync(path.join(podDir, "sessions")).filter((n) => n.includes(".replaced-"))).toHaveLength(1);
  });

  it("refuses to import over a pod that is running (already_running, exit 3) and writes nothing", async () => {
    const { dir: one, bundle } = await job1();
    const two = await checkout(one);
    const server = await startFakeServer({ turns: [{ ...text("slow"), fault: { kind: "stall", after_events: 1 } }] });
    const child = spawnPod(["run", "something long"], { cwd: two, env: podEnv(server.url) });
    const done = collect(child, ["run"]);
    let out = "";
    await new Promise<void>((resolve) => child.stdout!.on("data", (d: Buffer) => ((out += d.toString()), out.includes('"turn_start"') && resolve())));
    const refused = await runPod(["import", bundle], { cwd: two, env: podEnv(undefined, OFFLINE) });
    expect(refused.code).toBe(3);
    expect(ofType(refused.events, "error")[0]).toMatchObject({ code: "already_running" });
    expect(existsSync(path.join(two, ".pod/tester/runs"))).toBe(true);
    expect(readdirSync(path.join(two, ".pod/tester/sessions"))).toHaveLength(1);
    child.kill("SIGTERM");
    await done;
    await server.close();
  });

  it("export --session takes one session and its runs; import refuses a bundle of another pod", async () => {
    const { dir: one, bundle } = await job1();
    const sessions = (await runPod(["sessions"], { cwd: one, env: podEnv(undefined, OFFLINE) })).stdout.trim();
    const id = JSON.parse(sessions).id;
    const single = path.join(path.dirname(bundle), "one.tar.gz");
    const r = await runPod(["export", "--session", id, "-o", single], { cwd: one, env: podEnv(undefined, OFFLINE) });
    expect(r.code).toBe(0);
    expect(parseJsonl(r.stdout)[0]).toMatchObject({ sessions: 1, runs: 1 });
    const missing = await runPod(["export", "--session", "20200101T000000Z-000000", "-o", single], { cwd: one, env: podEnv(undefined, OFFLINE) });
    expect(missing.code).toBe(2);
    expect(ofType(missing.events, "error")[0]).toMatchObject({ code: "not_found" });

    const other = await makeProject(manifest({ name: "someone-else" }));
    const wrong = await runPod(["import", bundle], { cwd: other, env: podEnv(undefined, OFFLINE) });
    expect(wrong.code).toBe(2);
    expect(ofType(wrong.events, "error")[0].message).toContain('holds pod "tester", not "someone-else"');
    expect(existsSync(path.join(other, ".pod"))).toBe(false);
  });
});
