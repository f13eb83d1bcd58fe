import { execFileSync, spawn } from "node:child_process";
import { mkdirSync, mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import { Report } from "../../src/report/model.js";
import { startFakeServer, type FakeServer } from "../fake-server/server.js";
import { makeProject, manifest, POD_BIN, podEnv, runPod, spawnPod } from "../helpers/pod-process.js";

/**
 * `pod report` (issue 25 item 4), end to end: the built binary runs a scripted model (the
 * fake Messages API, real SDK, real SSE) that reads, edits, writes, deletes and copies a
 * binary file through sandboxed Bash, and is denied once; then `pod report` renders the
 * recording. Every section is checked against what the run printed (run_end) and, for the
 * diffstat, against real git's `git diff --numstat` of the same change.
 */
const usage = { input_tokens: 100, output_tokens: 20, cache_read_input_tokens: 40, cache_creation_input_tokens: 7 };
const toolTurn = (id: string, name: string, input: object, after?: string) => ({
  ...(after ? { expect: { tool_result_for: after } } : {}),
  response: { content: [{ type: "text", text: `Calling ${name}.` }, { type: "tool_use", id, name, input }], stop_reason: "tool_use", usage },
});
const ANSWER = "Fixed `add` in src/app.js; notes written.";
const textTurn = (text: string, after: string) => ({ expect: { tool_result_for: after }, response: { content: [{ type: "text", text }], stop_reason: "end_turn", usage } });

/** A real binary file (PNG signature, then bytes with NULs). */
const BINARY = Buffer.concat([Buffer.from("89504e470d0a1a0a0000000d49484452", "hex"), Buffer.from(Array.from({ length: 600 }, (_, i) => (i * 37) % 256))]);
const FILES: Record<string, string> = {
  ".gitignore": ".pod/\n",
  "src/app.js": "export function add(a, b) {\n  return a - b;\n}\n\nexport function sub(a, b) {\n  return a + b;\n}\n",
  "old.txt": "to be removed\nand this line\n",
  "secret/key.txt": "not for the model\n",
};
const TURNS = () => [
  toolTurn("t1", "Read", { path: "src/app.js" }),
  toolTurn("t2", "Edit", { path: "src/app.js", old_string: "a - b;\n}\n\nexport function sub(a, b) {\n  return a + b", new_string: "a + b;\n}\n\nexport function sub(a, b) {\n  return a - b" }, "t1"),
  toolTurn("t3", "Write", { path: "notes/new file.md", content: "# Notes\nwritten by the model\nthird line\n" }, "t2"),
  toolTurn("t4", "Read", { path: "secret/key.txt" }, "t3"),
  toolTurn("t5", "Bash", { command: "rm old.txt" }, "t4"),
  toolTurn("t6", "Bash", { command: "cp fixtures/logo.bin logo-copy.bin" }, "t5"),
  toolTurn("t7", "Bash", { command: "cat missing-file" }, "t6"),
  textTurn(ANSWER, "t7"),
];
const MANIFEST = manifest({ extra: '\n[tools.bash]\nenabled = true\nallow = ["rm *", "cp *", "cat *"]\n' }).replace('deny = [".pod/**"]', 'deny = [".pod/**", "secret/**"]');

let server: FakeServer | undefined;
afterEach(async () => {
  await server?.close();
  server = undefined;
});

/** `pod report …` with its stdout as it is (markdown is not JSONL). */
function podReport(args: string[], cwd: string, env = podEnv(undefined)): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [POD_BIN, "report", ...args], { cwd, env: env as NodeJS.ProcessEnv, stdio: ["ignore", "pipe", "pipe"] });
    let stdout = "";
    let stderr = "";
    child.stdout.setEncoding("utf8").on("data", (d: string) => (stdout += d));
    child.stderr.setEncoding("utf8").on("data", (d: string) => (stderr += d));
    child.on("error", reject);
    child.on("close", (code) => resolve({ code, stdout, stderr }));
  });
}

const git = (cwd: string, ...args: string[]) => execFileSync("git", ["-c", "user.name=t", "-c", "user.email=t@e", ...args], { cwd, encoding: "utf8" });

async function editingRun(opts: { git: boolean }) {
  const dir = await makeProject(MANIFEST, FILES);
  mkdirSync(path.join(dir, "fixtures"));
  writeFileSync(path.join(dir, "fixtures/logo.bin"), BINARY);
  if (opts.git) {
    git(dir, "init", "-q");
    git(dir, "add", "-A");
    git(dir, "commit", "-qm", "start");
  }
  server = await startFakeServer({ turns: TURNS() });
  const run = await runPod(["run", "fix src/app.js and tidy up"], { cwd: dir, env: podEnv(server.url) });
  expect(run.code, run.stderr).toBe(0);
  expect(server.mismatches).toEqual([]);
  return { dir, run, end: run.events.at(-1), runId: run.events[0].run_id as string };
}

/** The rows of the markdown table under `heading`. */
function tableUnder(md: string, heading: RegExp): string[][] {
  const lines = md.split("\n");
  const at = lines.findIndex((l) => heading.test(l));
  expect(at, `a heading ${heading}`).toBeGreaterThanOrEqual(0);
  const rows: string[][] = [];
  for (let i = at + 1; i < lines.length && !lines[i]!.startsWith("#"); i++) {
    if (!lines[i]!.startsWith("|")) continue;
    rows.push(lines[i]!.slice(2, -2).split(" | "));
  }
  return rows.slice(2); // header and alignment
}

describe("pod report (real binary, fake server)", () => {
  it("markdown: every section, with run_end's numbers, a diffstat equal to git's, each tool call and the denial", async () => {
    const { dir, end, runId } = await editingRun({ git: true });
    // What real git says the run changed, lines per file (binary: "-").
    git(dir, "add", "-A", "--intent-to-add");
    const numstat: Record<string, (string | undefined)[]> = Object.fromEntries(
      git(dir, "diff", "--numstat")
        .trim()
        .split("\n")
        .map((l) => l.split("\t"))
        .map(([a, r, p]) => [p!, [a, r]]),
    );
    numstat["old.txt"] = ["0", "2"];

    const r = await podReport([], dir);
    expect(r.code, r.stderr).toBe(0);
    const md = r.stdout;
    // The facts, as run_end has them.
    expect(md).toContain(`### ✅ pod \`tester\`: finished`);
    const facts = Object.fromEntries(tableUnder(md, /^### /).map(([k, v]) => [k, v]));
    expect(facts.run).toBe(`\`${runId}\` (run)`);
    expect(facts.turns).toBe(String(end.turns));
    expect(end.turns).toBe(8);
    const u = end.usage;
    expect(facts.tokens).toBe(`${u.input_tokens.toLocaleString("en-US")} in · ${u.output_tokens} out · ${u.cache_read_input_tokens} cache read · ${u.cache_creation_input_tokens} cache write`);
    expect(u.input_tokens).toBe(800);
    expect(facts.cost).toBe(end.cost_usd === null ? "— (no price known for the model)" : `$${end.cost_usd.toFixed(4)}`);
    expect(facts["wall time"]).toMatch(/^\d+(\.\d)? (ms|s)$/);
    // The prompt and the answer, whole.
    expect(md).toMatch(/#### Prompt\n\n```text\nfix src\/app.js and tidy up\n```/);
    expect(md).toContain("#### Answer\n\n```text\n" + ANSWER + "\n```");
    // Files changed: the diffstat is git's.
    const files = tableUnder(md, /^#### Files changed/);
    expect(files.map((f) => f[0])).toEqual(end.files_changed.map((f: any) => `\`${f.path}\``));
    for (const [p, change, added, removed] of files) {
      const name = p!.slice(1, -1);
      expect(change).toBe(end.files_changed.find((f: any) => f.path === name).change);
      const [ga, gr] = numstat[name]!;
      if (ga === "-") expect([added, removed]).toEqual(["binary", ""]);
      else expect([added, removed], name).toEqual([ga, gr]);
    }
    expect(md).toMatch(/#### Files changed \(4: \+5 −4\)/);
    // Tool calls: turn, tool, input, outcome, time.
    const calls = tableUnder(md, /^#### Tool calls/);
    expect(calls.map((c) => [c[0], c[1], c[2], c[3]])).toEqual([
      ["1", "`Read`", "`src/app.js`", "ok"],
      ["2", "`Edit`", "`src/app.js`", "ok"],
      ["3", "`Write`", "`notes/new file.md`", "ok"],
      ["4", "`Read`", "`secret/key.txt`", expect.stringMatching(/^denied: /)],
      ["5", "`Bash`", "`rm old.txt`", "ok"],
      ["6", "`Bash`", "`cp fixtures/logo.bin logo-copy.bin`", "ok"],
      ["7", "`Bash`", "`cat missing-file`", "error: `exit 1`"],
    ]);
    for (const c of calls) expect(c[4]).toMatch(/^\d+(\.\d)? (ms|s)$/);
    expect(md).toMatch(/#### Tool calls \(7: 5 ok, 1 error, 1 denied\)/);
    // Denials: the one run_end lists.
    expect(end.denials).toHaveLength(1);
    const denials = tableUnder(md, /^#### Denials/);
    expect(denials).toEqual([["4", "`Read`", "`t4`", expect.stringContaining(end.denials[0].reason.slice(0, 30))]]);

    // The same run by its id.
    expect((await podReport([runId], dir)).stdout).toBe(md);
  });

  it("json: one object valid against the Report schema, with run_end's numbers; works without git, and after pod import elsewhere", async () => {
    const { dir, end, runId } = await editingRun({ git: false });
    const r = await podReport(["--format", "json"], dir);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout.trim().split("\n")).toHaveLength(1);
    const report = Report.parse(JSON.parse(r.stdout));
    expect(report).toMatchObject({ v: 1, run_id: runId, mode: "run", result: "finished", prompt: "fix src/app.js and tidy up", answer: { text: ANSWER }, no_answer: null });
    expect(report.turns).toBe(end.turns);
    expect(report.usage).toEqual(end.usage);
    expect(report.cost_usd).toBe(end.cost_usd ?? null);
    expect(report.duration_ms).toBe(end.duration_ms);
    expect(report.denials).toEqual(end.denials.map((d: any) => ({ ...d, turn: 4 })));
    expect(report.tool_calls.map((c) => c.outcome)).toEqual(["ok", "ok", "ok", "denied", "ok", "ok", "error"]);
    // Without git the lines are counted from the bytes kept at start.
    expect(report.files_changed).toEqual({
      files: [
        { path: "logo-copy.bin", change: "added", added: null, removed: null, binary: true },
        { path: "notes/new file.md", change: "added", added: 3, removed: 0, binary: false },
        { path: "old.txt", change: "deleted", added: 0, removed: 2, binary: false },
        { path: "src/app.js", change: "modified", added: 2, removed: 2, binary: false },
      ],
      added: 5,
      removed: 4,
      truncated: false,
      not_counted: null,
    });

    // Carried to another machine: no workspace, no git, only the bundle.
    const bundle = path.join(mkdtempSync(path.join(tmpdir(), "pod-bundle-")), "pod.tar.gz");
    const exported = await runPod(["export", "-o", bundle], { cwd: dir, env: podEnv(undefined) });
    expect(exported.code, exported.stderr).toBe(0);
    const elsewhere = await makeProject(manifest({ scope: false }));
    const imported = await runPod(["import", bundle], { cwd: elsewhere, env: podEnv(undefined) });
    expect(imported.code, imported.stderr).toBe(0);
    const there = await podReport(["--format", "json"], elsewhere);
    expect(there.code, there.stderr).toBe(0);
    expect(JSON.parse(there.stdout)).toEqual(JSON.parse(r.stdout));
    const mdHere = await podReport([], dir);
    const mdThere = await podReport([], elsewhere);
    expect(mdThere.stdout).toBe(mdHere.stdout);
  });

  it("a paused run names the waiting call; the resume that approves it reports the decision and the answer", async () => {
    server = await startFakeServer({
      turns: [
        { response: { content: [{ type: "tool_use", id: "toolu_w", name: "Write", input: { path: "a.txt", content: "one\ntwo\n" } }], stop_reason: "tool_use", usage } },
        { expect: { tool_result_for: "toolu_w" }, response: { content: [{ type: "text", text: "Wrote a.txt." }], stop_reason: "end_turn", usage } },
      ],
    });
    const dir = await makeProject(manifest({ extra: '\n[tools]\nask = ["Write"]\n' }));
    const paused = await runPod(["run", "write a.txt"], { cwd: dir, env: podEnv(server.url) });
    expect(paused.code).toBe(10);
    const p = await podReport([], dir);
    expect(p.stdout).toContain("### ⏸️ pod `tester`: paused");
    expect(p.stdout).toContain("#### No answer\n\nThe run paused: a call waits for approval.");
    expect(p.stdout).toContain("- `Write` `a.txt` (call `toolu_w`)");
    expect(p.stdout).toMatch(/#### Files changed\n\nNone\./);

    const resumed = await runPod(["resume", "--approve"], { cwd: dir, env: podEnv(server.url) });
    expect(resumed.code, resumed.stderr).toBe(0);
    const rr = await podReport([], dir);
    expect(rr.stdout).toContain("#### Resumed\n\nApproved: `Write` `a.txt` (call `toolu_w`).");
    expect(rr.stdout).toContain("#### Answer\n\n```text\nWrote a.txt.\n```");
    expect(tableUnder(rr.stdout, /^#### Tool calls/).map((c) => c.slice(0, 4))).toEqual([["1", "`Write`", "`a.txt`", "ok"]]);
    expect(tableUnder(rr.stdout, /^#### Files changed/)).toEqual([["`a.txt`", "added", "2", "0"]]);
    // And the paused run is still there by its id.
    expect((await podReport([paused.events[0].run_id], dir)).stdout).toBe(p.stdout);
  });

  it("a run that ended in an error says why there is no answer: the code and the message", async () => {
    server = await startFakeServer({ turns: [{ response: { content: [{ type: "text", text: "no" }], stop_reason: "refusal", usage } }] });
    const dir = await makeProject(manifest());
    const run = await runPod(["run", "do something"], { cwd: dir, env: podEnv(server.url) });
    expect(run.code).toBe(1);
    const error = run.events.find((e) => e.type === "error");
    const r = await podReport(["--format", "json"], dir);
    const report = Report.parse(JSON.parse(r.stdout));
    expect(report.result).toBe("error");
    expect(report.error).toEqual({ code: error.code, message: error.message });
    expect(report.answer).toBeNull();
    const md = (await podReport([], dir)).stdout;
    expect(md).toContain(`#### No answer\n\nThe run ended with an error: \`${error.code}\`.`);
    expect(md).toContain(error.message.split("\n")[0]);
  });

  it("a run killed mid-way (kill -9) is reported from what was recorded: no end, the turns and tokens so far, its tool calls", async () => {
    server = await startFakeServer({
      turns: [
        { response: { content: [{ type: "tool_use", id: "toolu_r", name: "Read", input: { path: "a.txt" } }], stop_reason: "tool_use", usage } },
        { expect: { tool_result_for: "toolu_r" }, response: { content: [{ type: "text", text: "never" }], stop_reason: "end_turn", usage }, fault: { kind: "hang" } },
      ],
    });
    const dir = await makeProject(manifest(), { "a.txt": "alpha\n" });
    const child = spawnPod(["run", "read a.txt"], { cwd: dir, env: podEnv(server.url) });
    const exited = new Promise((resolve) => child.on("close", resolve));
    const deadline = Date.now() + 20_000;
    while (server.requests.length < 2 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 25));
    expect(server.requests.length).toBe(2);
    child.kill("SIGKILL");
    await exited;
    const md = (await podReport([], dir)).stdout;
    expect(md).toContain("### ❔ pod `tester`: no end");
    expect(md).toContain("| turns | 1 |");
    expect(md).toContain("| tokens | 100 in · 20 out · 40 cache read · 7 cache write |");
    expect(md).toContain("| cost | — (no end recorded) |");
    expect(md).toContain("The run has no end in its recording");
    expect(tableUnder(md, /^#### Tool calls/).map((c) => c.slice(0, 4))).toEqual([["1", "`Read`", "`a.txt`", "ok"]]);
    const report = Report.parse(JSON.parse((await podReport(["--format", "json"], dir)).stdout));
    expect(report).toMatchObject({ result: null, ended_at: null, files_changed: null, cost_usd: null, duration_ms: null, turns: 1 });
  });

  it("refuses clearly: an unknown run id names `pod runs`; no runs yet says how runs are made; markdown is report's format only", async () => {
    const dir = await makeProject(manifest());
    const none = await podReport([], dir);
    expect(none.code).toBe(2);
    const e1 = JSON.parse(none.stdout);
    expect(e1).toMatchObject({ type: "error", code: "not_found" });
    expect(e1.message).toMatch(/no recorded runs.*`pod run` records every run/);
    const unknown = await podReport(["20260101T000000Z-abcdef"], dir);
    expect(unknown.code).toBe(2);
    expect(JSON.parse(unknown.stdout).message).toMatch(/no recorded run 20260101T000000Z-abcdef.*`pod runs` lists/);
    expect(unknown.stderr).toContain("`pod runs`");
    const garbage = await podReport(["../../etc"], dir);
    expect(garbage.code).toBe(2);
    expect(JSON.parse(garbage.stdout).message).toMatch(/not a run id.*`pod runs`/);
    const wrong = await runPod(["status", "--format", "markdown"], { cwd: dir, env: podEnv(undefined) });
    expect(wrong.code).toBe(2);
    expect(wrong.stderr).toContain("--format markdown is for `pod report`");
  });
});
