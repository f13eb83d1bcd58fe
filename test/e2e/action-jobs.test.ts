import { existsSync, readFileSync } from "node:fs";
import { execFileSync } from "node:child_process";
import { mkdir, mkdtemp, readFile, rename, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import path from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import { parse } from "yaml";
import { startFakeServer, type FakeServer } from "../fake-server/server.js";
import { runToEnd } from "../helpers/spawn.js";
import { makeProject, manifest, parseJsonl, podEnv, POD_BIN, REPO_ROOT } from "../helpers/pod-process.js";
import { actionRunner, expressionsIn, filesUnder, parseFileCommands, testRunId, type JobResult } from "./action-harness.js";

/**
 * The Action's jobs, run in the simulated runner (action-harness.ts) against the fake
 * Messages API: every step of action.yml in order, the cache and artifact steps simulated,
 * pod installed the way the install step leaves it (seeded into the cache once per file, so
 * each job takes the cache-hit path; the build itself is action-install.test.ts).
 */
let server: FakeServer | undefined;
/** The Action's checkout and install cache, made once for this file (action-harness.ts). */
const runner = actionRunner(() => server!.url);

afterEach(async () => {
  await server?.close();
  server = undefined;
});

const job = runner.job;

const step = (r: JobResult, idOrName: string) => r.steps.find((s) => s.id === idOrName || s.name === idOrName)!;
const writeTurn = (id: string, p: string, content: string) => ({ response: { content: [{ type: "tool_use", id, name: "Write", input: { path: p, content } }], stop_reason: "tool_use" } });
const textTurn = (text: string) => ({ response: { content: [{ type: "text", text }] } });
const ASK_WRITE = manifest({ extra: '\n[tools]\nask = ["Write"]\n' });

describe("a pause in one job, approved in a later job of the same workflow run", () => {
  it("pauses with the pending call named, shown and the approval step given; the approval job finishes it", async () => {
    server = await startFakeServer({ turns: [writeTurn("toolu_w", "out.txt", "done\n"), textTurn("Wrote out.txt.\nAll set.")] });
    const dir = await makeProject(ASK_WRITE);
    const artifacts = await mkdtemp(path.join(tmpdir(), "pod-artifacts-"));
    const fix = await job({ workspace: dir, inputs: { prompt: "write out.txt" }, job: "fix", artifacts });
    expect(fix.steps.map((s) => [s.id ?? s.name, s.outcome])).toEqual([
      ["setup", "success"], ["install-cache", "success"], ["install", "success"], ["Save pod's install", "skipped"], ["sandbox", "success"],
      ["runtime-cache", "success"], ["pod", "success"], ["Upload pod's events and changes", "success"], ["Save pod's runtime directory", "success"],
    ]);
    // Paused is an outcome to branch on, not a failure; output holds no answer, pending the call.
    expect(fix.outputs).toMatchObject({ result: "paused", "exit-code": "10", output: "", denials: "[]", "error-code": "", "error-message": "" });
    expect(JSON.parse(fix.outputs.pending!)).toEqual([{ id: "toolu_w", name: "Write", input: { path: "out.txt", content: "done\n" } }]);
    expect(existsSync(path.join(dir, "out.txt"))).toBe(false);
    // Outside the workspace: the events, the runtime dir (exported for later steps), the install (on PATH).
    for (const p of [fix.outputs["events-file"]!, fix.outputs["runtime-dir"]!]) expect(p.startsWith(fix.runnerTemp)).toBe(true);
    expect(fix.env.POD_RUNTIME_DIR).toBe(fix.outputs["runtime-dir"]);
    expect(fix.path[0]).toBe(path.join(fix.runnerTemp, "pod-ci-agent", "bin"));
    expect(filesUnder(dir).filter((f) => !f.startsWith("pod.toml"))).toEqual([]);

    // The log: pod's pretty output in a collapsible group, inside stop-commands.
    const g = fix.log.indexOf("::group::pod run");
    const stop = fix.log.findIndex((l) => /^::stop-commands::pod-[0-9a-f]{32}$/.test(l));
    const token = fix.log[stop]!.slice("::stop-commands::".length);
    const resume = fix.log.indexOf(`::${token}::`);
    const end = fix.log.indexOf("::endgroup::");
    expect(g).toBeGreaterThanOrEqual(0);
    expect([g + 1, resume + 1]).toEqual([stop, end]);
    const shown = fix.log.slice(stop + 1, resume).join("\n");
    expect(shown).toContain("▶ tester run");
    expect(shown).toContain("⚙ Write out.txt");
    expect(shown).toContain("waiting for approval (1 call)");
    expect(fix.processed.map((p) => p.command)).toEqual(["group", "stop-commands", "(resume-commands)", "endgroup", "notice"]);
    expect(fix.processed.at(-1)).toMatchObject({ properties: { title: "pod is waiting for approval" } });
    expect(fix.processed.at(-1)!.data).toContain("Write");

    // The summary: which call waits, the change it makes, the exact step that decides.
    expect(fix.summary).toMatch(/^### ⏸️ pod `tester`: paused/);
    expect(fix.summary).toContain("**`Write`** `out.txt` (call `toolu_w`): write 1 line(s), 5 bytes");
    const yamlBlock = /```yaml\n([\s\S]*?)```/.exec(fix.summary)![1]!;
    const approval = parse(yamlBlock)[0];
    expect(approval.with).toEqual({ approve: true });
    expect(approval.env).toEqual({ ANTHROPIC_API_KEY: "${{ secrets.ANTHROPIC_API_KEY }}" });
    expect(typeof approval.uses).toBe("string");

    // The approval job: a new runner (fresh $RUNNER_TEMP), the runtime dir from the cache.
    const approve = await job({ workspace: dir, inputs: { approve: "true" }, job: "approve", artifacts });
    expect(step(approve, "runtime-cache").outputs["cache-matched-key"]).toMatch(new RegExp(`^pod-runtime-run${testRunId()}-1-fix-1-`));
    expect(approve.outputs).toMatchObject({ result: "finished", "exit-code": "0", "session-id": fix.outputs["session-id"], output: "Wrote out.txt.\nAll set.", pending: "[]" });
    expect(await readFile(path.join(dir, "out.txt"), "utf8")).toBe("done\n");
    expect(approve.summary).toContain("#### Answer");
    expect(approve.log).toContain("::group::pod resume --approve");

    // Each job's events are its own artifact, every line an event.
    // The approval job changed out.txt: its patch is uploaded for people to read; the fix job changed nothing.
    expect(filesUnder(artifacts).sort()).toEqual(["pod-events-approve-1/changes.patch", "pod-events-approve-1/events.jsonl", "pod-events-fix-1/events.jsonl"]);
    expect(readFileSync(path.join(artifacts, "pod-events-approve-1/changes.patch"), "utf8")).toContain("+done");
    const all = [...parseJsonl(readFileSync(path.join(artifacts, "pod-events-fix-1/events.jsonl"), "utf8")), ...parseJsonl(readFileSync(path.join(artifacts, "pod-events-approve-1/events.jsonl"), "utf8"))];
    expect(all.filter((e) => e.type === "run_end").map((e) => e.result)).toEqual(["paused", "finished"]);

    // Every step output action.yml reads was written by its step.
    for (const r of [fix, approve]) {
      for (const s of r.steps.filter((x) => x.outcome !== "skipped")) {
        for (const { expr } of expressionsIn(parse(readFileSync(path.join(REPO_ROOT, "action.yml"), "utf8")).runs, "runs")) {
          for (const [, id, out] of expr.matchAll(/\bsteps\.([\w-]+)\.outputs\.([\w-]+)/g)) if (id === s.id) expect(s.outputs, `${id}.${out}`).toHaveProperty([out!]);
        }
      }
    }
  });

  // Four jobs, each the Action's whole setup and a pod run: a minute on a loaded 2-core machine.
  it("shows each waiting call's change — Edit old → new, Write's first lines, Bash's command — approval after approval", { timeout: 180_000 }, async () => {
    server = await startFakeServer({
      turns: [
        { response: { content: [{ type: "tool_use", id: "toolu_r", name: "Read", input: { path: "a.txt" } }], stop_reason: "tool_use" } },
        { response: { content: [{ type: "tool_use", id: "toolu_e", name: "Edit", input: { path: "a.txt", old_string: "one", new_string: "uno" } }], stop_reason: "tool_use" } },
        writeTurn("toolu_w", "b.txt", Array.from({ length: 60 }, (_, i) => `line ${i}`).join("\n")),
        { response: { content: [{ type: "tool_use", id: "toolu_b", name: "Bash", input: { command: "npm test -- --grep 'a b'" } }], stop_reason: "tool_use" } },
        textTurn("all three done"),
      ],
    });
    const dir = await makeProject(manifest({ extra: '\n[tools]\nask = ["Edit", "Write", "Bash"]\n[tools.bash]\nenabled = true\nallow = ["npm test *"]\n' }), { "a.txt": "one\ntwo\n" });
    const edit = await job({ workspace: dir, inputs: { prompt: "change things" } });
    expect(JSON.parse(edit.outputs.pending!).map((p: any) => p.name)).toEqual(["Edit"]);
    expect(edit.summary).toMatch(/\*\*`Edit`\*\* `a\.txt` \(call `toolu_e`\): replace\n\n {2}```diff\n {2}- one\n {2}\+ uno\n {2}```/);
    expect(edit.summary).toContain("| Bash sandbox | `bwrap` |");
    const write = await job({ workspace: dir, inputs: { approve: "true" }, job: "approve-edit" });
    expect(await readFile(path.join(dir, "a.txt"), "utf8")).toBe("uno\ntwo\n");
    expect(write.outputs.result).toBe("paused");
    expect(write.summary).toMatch(/\*\*`Write`\*\* `b\.txt` \(call `toolu_w`\): write 60 line\(s\), \d+ bytes, starting/);
    expect(write.summary).toContain("  line 39\n  ```\n  … 20 more lines");
    const bash = await job({ workspace: dir, inputs: { approve: "true" }, job: "approve-write" });
    expect(bash.summary).toMatch(/\*\*`Bash`\*\* \(call `toolu_b`\): run\n\n {2}```sh\n {2}npm test -- --grep 'a b'\n {2}```/);
    const done = await job({ workspace: dir, inputs: { deny: "not today" }, job: "deny-bash" });
    expect(done.outputs).toMatchObject({ result: "finished", output: "all three done" });
    expect(JSON.parse(done.outputs.denials!)).toEqual([expect.objectContaining({ id: "toolu_b", tool: "Bash" })]);
    // The summary is pod report's: the denial in its table.
    expect(done.summary).toContain("#### Denials (1)");
  });
});

describe("the workspace across jobs", () => {
  for (const where of ["a plain directory", "a subdirectory of a git repository"]) {
    it(`the approval job's fresh checkout gets the changes the run made before it paused (${where})`, async () => {
      server = await startFakeServer({
        turns: [
          writeTurn("toolu_n", "notes.txt", "from job 1\n"),
          { response: { content: [{ type: "tool_use", id: "toolu_c", name: "Bash", input: { command: "cat notes.txt" } }], stop_reason: "tool_use" } },
          textTurn("read it"),
        ],
      });
      const m = manifest({ extra: '\n[tools]\nask = ["Bash"]\n[tools.bash]\nenabled = true\nallow = ["cat notes.txt"]\n' });
      const root = await makeProject(m, { "README.md": "hello\n" });
      let dir = root;
      if (where !== "a plain directory") {
        await mkdir(path.join(root, "svc"));
        for (const f of ["pod.toml", "README.md"]) await rename(path.join(root, f), path.join(root, "svc", f));
        execFileSync("git", ["init", "-q"], { cwd: root });
        execFileSync("git", ["-c", "user.email=t@t", "-c", "user.name=t", "add", "-A"], { cwd: root });
        execFileSync("git", ["-c", "user.email=t@t", "-c", "user.name=t", "commit", "-qm", "x"], { cwd: root });
        dir = path.join(root, "svc");
      }
      const fix = await job({ workspace: root, inputs: { prompt: "note and read", "working-directory": path.relative(root, dir) || "." } });
      expect(fix.outputs.result, fix.log.join("\n")).toBe("paused");
      expect(fix.log.join("\n")).toMatch(/kept this step's changes for later jobs of this workflow run \(0001-fix-1\.patch\)/);
      // The approval job's checkout: the commit as it was, without the run's notes.txt.
      await rm(path.join(dir, "notes.txt"));
      const approve = await job({ workspace: root, inputs: { approve: "true", "working-directory": path.relative(root, dir) || "." }, job: "approve" });
      expect(approve.log.join("\n")).toMatch(/applied the changes of 1 earlier step\(s\) of this workflow run \(0001-fix-1\.patch\)/);
      expect(approve.outputs.result).toBe("finished");
      expect(await readFile(path.join(dir, "notes.txt"), "utf8")).toBe("from job 1\n");
      const events = parseJsonl(await readFile(approve.outputs["events-file"]!, "utf8"));
      expect(events.find((e) => e.type === "tool_result" && e.id === "toolu_c").output).toContain("from job 1");
      if (where !== "a plain directory") expect(existsSync(path.join(root, "notes.txt"))).toBe(false);
    });
  }
});

describe("sessions per workflow run", () => {
  it("a new workflow run starts a new session and never sees another run's pause; continue-from asks for one explicitly", async () => {
    server = await startFakeServer({
      turns: [writeTurn("toolu_1", "a.txt", "a\n"), textTurn("fresh work done"), textTurn("approved: done")],
    });
    const dir = await makeProject(ASK_WRITE);
    const first = await job({ workspace: dir, inputs: { prompt: "write a.txt" }, runId: "500" });
    expect(first.outputs.result).toBe("paused");

    // Run 501 (a PR, say): nothing restored, a fresh session, the stale pause not picked up.
    const other = await job({ workspace: dir, inputs: { prompt: "something else" }, runId: "501" });
    expect(step(other, "runtime-cache").outputs["cache-matched-key"]).toBe("");
    expect(other.outputs.result).toBe("finished");
    expect(other.outputs["session-id"]).not.toBe(first.outputs["session-id"]);
    expect(server.requests.at(-1)!.body.messages).toHaveLength(1);

    // Approving in run 501 finds nothing to approve, and says why.
    const stray = await job({ workspace: dir, inputs: { approve: "true" }, runId: "501", job: "approve" });
    expect(step(stray, "pod").outcome).toBe("failure");
    expect(stray.outputs).toMatchObject({ result: "error", "exit-code": "3", "error-code": "not_paused" });
    expect(stray.processed.find((p) => p.command === "error")!.data).toMatch(/the runtime directory restored from pod-runtime-run501-\S+ has no paused pod/);

    // Run 502 continues run 500's pod explicitly.
    const cont = await job({ workspace: dir, inputs: { approve: "true", "continue-from": "500" }, runId: "502" });
    expect(step(cont, "runtime-cache").outputs["cache-matched-key"]).toMatch(/^pod-runtime-run500-/);
    expect(cont.outputs).toMatchObject({ result: "finished", "session-id": first.outputs["session-id"] });
    expect(await readFile(path.join(dir, "a.txt"), "utf8")).toBe("a\n");
  });

  it("a second use in the same job continues the first's session, with its own directory and artifact", async () => {
    server = await startFakeServer({ turns: [textTurn("first"), textTurn("second")] });
    const dir = await makeProject(manifest());
    const runnerTemp = await mkdtemp(path.join(tmpdir(), "pod-runner-temp-"));
    const artifacts = await mkdtemp(path.join(tmpdir(), "pod-artifacts-"));
    const a = await job({ workspace: dir, inputs: { prompt: "one" }, runId: "600", runnerTemp, artifacts });
    const b = await job({ workspace: dir, inputs: { prompt: "two" }, runId: "600", runnerTemp, artifacts });
    expect(b.outputs["session-id"]).toBe(a.outputs["session-id"]);
    expect(b.outputs["events-file"]).not.toBe(a.outputs["events-file"]);
    expect(filesUnder(artifacts).sort()).toEqual(["pod-events-fix-1-2/events.jsonl", "pod-events-fix-1/events.jsonl"]);
    expect(server.requests.at(-1)!.body.messages.length).toBe(3);
  });
});

describe("matrix legs", () => {
  it("get their own artifacts and caches; an approval job with the same matrix continues its own leg", async () => {
    server = await startFakeServer({ turns: [writeTurn("toolu_20", "n20.txt", "20\n"), writeTurn("toolu_22", "n22.txt", "22\n"), textTurn("leg 22 done")] });
    const dir20 = await makeProject(ASK_WRITE);
    const dir22 = await makeProject(ASK_WRITE);
    const artifacts = await mkdtemp(path.join(tmpdir(), "pod-artifacts-"));
    const legs = [
      await job({ workspace: dir20, inputs: { prompt: "w" }, runId: "700", matrix: { node: 20 }, artifacts }),
      await job({ workspace: dir22, inputs: { prompt: "w" }, runId: "700", matrix: { node: 22 }, artifacts }),
    ];
    const names = filesUnder(artifacts);
    expect(names).toHaveLength(2);
    expect(new Set(names.map((n) => n.split("/")[0])).size).toBe(2);
    const keys = legs.map((l) => step(l, "setup").outputs["runtime-key"]!);
    const leg = (k: string) => /^pod-runtime-(m[0-9a-f]{8})-run\d+-/.exec(k)![1];
    expect(leg(keys[0]!)).not.toBe(leg(keys[1]!));
    const approve = await job({ workspace: dir22, inputs: { approve: "true" }, runId: "700", job: "approve", matrix: { node: 22 }, artifacts });
    expect(approve.outputs).toMatchObject({ result: "finished", "session-id": legs[1]!.outputs["session-id"] });
    expect(await readFile(path.join(dir22, "n22.txt"), "utf8")).toBe("22\n");
    expect(existsSync(path.join(dir20, "n20.txt"))).toBe(false);
  });
});

describe("the sandbox on the runner", () => {
  const BASH = manifest({ extra: '\n[tools.bash]\nenabled = true\nallow = ["npm test"]\n' });

  it("fails the step before pod runs when Bash is on and no sandbox can start, with the fix", async () => {
    server = await startFakeServer({ turns: [textTurn("never asked")] });
    const dir = await makeProject(BASH);
    const r = await job({ workspace: dir, inputs: { prompt: "run the tests", sandbox: "check" }, env: { ...(podEnv(server.url) as Record<string, string>), POD_BWRAP: "/nonexistent/bwrap" } });
    expect(step(r, "sandbox").outputs.status).toBe("unavailable");
    expect(step(r, "pod").outcome).toBe("failure");
    expect(server.requests).toHaveLength(0);
    expect(r.outputs).toMatchObject({ result: "error", "exit-code": "", "error-code": "sandbox_unavailable" });
    expect(r.outputs["error-message"]).toMatch(/bubblewrap \(bwrap\) is not installed/);
    expect(r.outputs["error-message"]).toMatch(/sudo apt-get install -y bubblewrap/);
    const err = r.processed.find((p) => p.command === "error")!;
    expect(err.properties.title).toBe("pod: no sandbox for Bash");
    expect(r.summary).toContain("**The step failed: `sandbox_unavailable`**");
  });

  it("on a GitHub-hosted runner without bubblewrap, installs it (apt-get through sudo) and goes ahead", async () => {
    // Stand-ins that change nothing on this machine: `sudo` runs its arguments, and `apt-get
    // install … bubblewrap` puts a bwrap (the real one) where pod looks for it.
    server = await startFakeServer({ turns: [textTurn("tests ran")] });
    const shims = await mkdtemp(path.join(tmpdir(), "pod-shims-"));
    const log = path.join(shims, "calls.log");
    const realBwrap = execFileSync("bash", ["-c", "command -v bwrap"], { encoding: "utf8" }).trim();
    await writeFile(path.join(shims, "sudo"), `#!/bin/sh\necho "sudo $*" >> ${log}\n[ "$1" = -n ] && shift\nexec "$@"\n`, { mode: 0o755 });
    await writeFile(path.join(shims, "apt-get"), `#!/bin/sh\necho "apt-get $*" >> ${log}\ncase "$*" in *"install"*bubblewrap*) ln -sf ${realBwrap} ${shims}/bwrap ;; esac\n`, { mode: 0o755 });
    const env = { ...(podEnv(server.url) as Record<string, string>), PATH: `${shims}:${process.env.PATH}`, POD_BWRAP: path.join(shims, "bwrap") };
    const r = await job({ workspace: await makeProject(BASH), inputs: { prompt: "run the tests" }, env, runnerEnvironment: "github-hosted" });
    expect(step(r, "sandbox").outputs).toMatchObject({ status: "ok", kind: "bwrap" });
    expect(step(r, "sandbox").stdout).toContain("- install bubblewrap");
    expect(readFileSync(log, "utf8")).toMatch(/apt-get install -y --no-install-recommends bubblewrap/);
    expect(r.outputs.result).toBe("finished");
    // The same runner, self-hosted: `auto` only checks, and the step fails with the fix.
    const selfHosted = await job({ workspace: await makeProject(BASH), inputs: { prompt: "run the tests" }, env: { ...env, POD_BWRAP: path.join(shims, "none", "bwrap") }, runnerEnvironment: "self-hosted" });
    expect(step(selfHosted, "sandbox").outputs.status).toBe("unavailable");
    expect(selfHosted.outputs["error-code"]).toBe("sandbox_unavailable");
    expect(readFileSync(log, "utf8").match(/^apt-get install/gm)).toHaveLength(1);
  });

  it("with Bash off the sandbox is not needed and the run goes ahead; with one, run_start says which", async () => {
    server = await startFakeServer({ turns: [textTurn("ok"), textTurn("ok")] });
    const off = await job({ workspace: await makeProject(manifest()), inputs: { prompt: "hi" }, env: { ...(podEnv(server.url) as Record<string, string>), POD_BWRAP: "/nonexistent/bwrap" } });
    expect(step(off, "sandbox").outputs.status).toBe("not-needed");
    expect(off.outputs.result).toBe("finished");
    const on = await job({ workspace: await makeProject(BASH), inputs: { prompt: "hi" } });
    expect(step(on, "sandbox").outputs).toMatchObject({ status: "ok", kind: "bwrap" });
    expect(on.outputs.result).toBe("finished");
  });

  it("if pod still finds no sandbox at run start, the Action stops it and fails the step (never a green job with every Bash call refused)", async () => {
    server = await startFakeServer({ turns: [textTurn("I could not run anything."), textTurn("again")] });
    const dir = await makeProject(BASH);
    const temp = await mkdtemp(path.join(tmpdir(), "pod-runner-temp-"));
    const outputs = path.join(temp, "out");
    await writeFile(outputs, "");
    // The run step alone, as if the sandbox step had said "ok": the backstop is pod's own run_start error.
    const r = await runToEnd(process.execPath, [path.join(REPO_ROOT, "action/run.mjs")], {
      cwd: dir,
      env: { ...(podEnv(server.url) as NodeJS.ProcessEnv), POD_BWRAP: "/nonexistent/bwrap", POD_BIN, POD_ACTION_LIB: path.join(REPO_ROOT, "action/dist/lib.cjs"), RUNNER_TEMP: temp, GITHUB_WORKSPACE: dir, GITHUB_OUTPUT: outputs, INPUT_PROMPT: "run the tests", POD_EVENTS_FILE: path.join(temp, "e.jsonl"), POD_RUNTIME_DIR_RESOLVED: path.join(temp, "rt") },
    });
    expect(r.code).toBe(1);
    const o = parseFileCommands(await readFile(outputs, "utf8"));
    expect(o).toMatchObject({ result: "error", "error-code": "sandbox_unavailable" });
    expect(o["error-message"]).toMatch(/stopped pod at the start of the run/);
    expect(server.requests.length).toBeLessThanOrEqual(1);
    const events = parseJsonl(await readFile(path.join(temp, "e.jsonl"), "utf8"));
    expect(events.find((e) => e.type === "run_start").sandbox).toBeNull();
    expect(events.filter((e) => e.type === "tool_result")).toEqual([]);
  });
});

describe("failures and copies", () => {
  it("a failed run fails the step with pod's exit code, names the error, and still writes every output", async () => {
    server = await startFakeServer({ turns: [] });
    const r = await job({ workspace: await makeProject(manifest({ scope: false })), inputs: { prompt: "hi" }, env: podEnv(server.url, { ANTHROPIC_API_KEY: undefined }) as Record<string, string> });
    expect(step(r, "pod").outcome).toBe("failure");
    expect(step(r, "pod").code).toBe(2);
    expect(r.outputs).toMatchObject({ result: "error", "exit-code": "2", "error-code": "invalid_credentials", output: "", pending: "[]" });
    expect(r.processed.find((p) => p.command === "error")!.data).toContain("invalid_credentials");
    expect(step(r, "Save pod's runtime directory").outcome).toBe("success");
  });

  it("copies the events to events-file, a fresh file at a path of the workflow's choosing", async () => {
    server = await startFakeServer({ turns: [textTurn("hello"), textTurn("again")] });
    const dir = await makeProject(manifest());
    const r = await job({ workspace: dir, inputs: { prompt: "hi", "events-file": "reports/pod.jsonl" } });
    expect(await readFile(path.join(dir, "reports/pod.jsonl"), "utf8")).toBe(await readFile(r.outputs["events-file"]!, "utf8"));
    // A second step with the same events-file would overwrite: it is refused instead, with a warning.
    const again = await job({ workspace: dir, inputs: { prompt: "hi", "events-file": "reports/pod.jsonl", "new-session": "true" } });
    expect(step(again, "pod").outcome).toBe("success");
    expect(again.processed.find((p) => p.command === "warning")!.data).toMatch(/already exists/);
  });
});
