import { runToEnd } from "../helpers/spawn.js";
import { spawn } from "node:child_process";
import { existsSync, readFileSync } from "node:fs";
import { mkdtemp, readFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import path from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import { parse } from "yaml";
import { startFakeServer, type FakeServer } from "../fake-server/server.js";
import { makeProject, manifest, parseJsonl, podEnv, POD_BIN, REPO_ROOT } from "../helpers/pod-process.js";

/**
 * The GitHub Action (action.yml + action/run.mjs). GitHub itself is not here, so this
 * tests what can be: the YAML wires every input to the script and uses the artifact and
 * cache actions; inputs become the right pod command line; and the script, run for real
 * with the built binary against the fake server, writes the step outputs, including a
 * pause in one "job" approved in the next.
 */
const SCRIPT = path.join(REPO_ROOT, "action/run.mjs");
let server: FakeServer | undefined;
afterEach(async () => {
  await server?.close();
  server = undefined;
});

function runScript(args: string[], env: Record<string, string | undefined>, cwd = REPO_ROOT) {
  const clean = Object.fromEntries(Object.entries(env).filter(([, v]) => v !== undefined)) as NodeJS.ProcessEnv;
  return runToEnd(process.execPath, [SCRIPT, ...args], { cwd, env: clean });
}

const inputsEnv = (inputs: Record<string, string>) => Object.fromEntries(Object.entries(inputs).map(([k, v]) => [`INPUT_${k.toUpperCase().replaceAll("-", "_")}`, v]));

async function dryRun(inputs: Record<string, string>) {
  const r = await runScript(["--dry-run"], { PATH: process.env.PATH, ...inputsEnv(inputs) });
  return { code: r.code, ...JSON.parse(r.stdout) };
}

/** GITHUB_OUTPUT's `name<<DELIM … DELIM` blocks. */
function parseOutputs(text: string): Record<string, string> {
  const out: Record<string, string> = {};
  const lines = text.split("\n");
  for (let i = 0; i < lines.length; i++) {
    const m = /^([\w-]+)<<(\w+)$/.exec(lines[i]!);
    if (!m) continue;
    const value: string[] = [];
    for (i++; lines[i] !== m[2]; i++) value.push(lines[i]!);
    out[m[1]!] = value.join("\n");
  }
  return out;
}

describe("action.yml", () => {
  const action = parse(readFileSync(path.join(REPO_ROOT, "action.yml"), "utf8"));

  it("is a composite action with the documented inputs and outputs", () => {
    expect(action.runs.using).toBe("composite");
    for (const name of ["prompt", "manifest", "working-directory", "approve", "deny", "output-schema", "max-budget-usd", "timeout"]) expect(action.inputs).toHaveProperty([name]);
    expect(Object.keys(action.outputs)).toEqual(expect.arrayContaining(["result", "exit-code", "session-id", "output"]));
  });

  it("passes every input to the script, uploads the events, and restores and saves the runtime dir", () => {
    const steps: any[] = action.runs.steps;
    const run = steps.find((s) => s.id === "pod");
    expect(run.run).toContain("action/run.mjs");
    const passed = Object.entries(run.env as Record<string, string>).filter(([k]) => k.startsWith("INPUT_"));
    for (const [variable, expr] of passed) {
      const input = /\$\{\{ inputs\.([\w-]+) \}\}/.exec(expr)![1]!;
      expect(action.inputs).toHaveProperty([input]);
      expect(variable).toBe(`INPUT_${input.toUpperCase().replaceAll("-", "_")}`);
    }
    const script = readFileSync(SCRIPT, "utf8") as string;
    for (const [, input] of script.matchAll(/get\("([\w-]+)"\)/g)) expect(passed.map(([k]) => k)).toContain(`INPUT_${input!.toUpperCase().replaceAll("-", "_")}`);
    expect(steps.some((s) => String(s.uses).startsWith("actions/upload-artifact@") && s.if === "always()")).toBe(true);
    const restore = steps.find((s) => String(s.uses).startsWith("actions/cache/restore@"));
    const save = steps.find((s) => String(s.uses).startsWith("actions/cache/save@"));
    expect(restore.with.path).toBe(save.with.path);
    expect(save.if).toBe("always()");
    // A later job finds the cache by prefix: its own key differs (caches are immutable).
    expect(restore.with["restore-keys"]).toContain("${{ inputs.cache-key }}-");
  });
});

describe("the command line the action builds", () => {
  it("a run with every option", async () => {
    const r = await dryRun({
      prompt: "fix the tests; don't touch 'docs'",
      manifest: "ci/pod.toml",
      "working-directory": "sub dir",
      "output-schema": "schema.json",
      "max-budget-usd": "1.5",
      timeout: "10m",
      "max-turns": "20",
      session: "20261125T021500Z-a1b2c3",
      "runtime-dir": ".pod",
    });
    expect(r.code).toBe(0);
    expect(r.cwd).toBe("sub dir");
    expect(r.command).toEqual([
      "pod", "run", "fix the tests; don't touch 'docs'", "--session", "20261125T021500Z-a1b2c3", "--output-schema", "schema.json",
      "--max-budget-usd", "1.5", "--timeout", "10m", "--max-turns", "20", "--manifest", "ci/pod.toml", "--runtime-dir", ".pod", "--format", "jsonl",
    ]);
  });

  it("approve and deny resume the paused pod; a run-only option is not passed to resume", async () => {
    expect((await dryRun({ approve: "true", prompt: "", "output-schema": "s.json" })).command).toEqual(["pod", "resume", "--approve", "--format", "jsonl"]);
    expect((await dryRun({ deny: "not on main", timeout: "5m" })).command).toEqual(["pod", "resume", "--deny", "not on main", "--timeout", "5m", "--format", "jsonl"]);
    expect((await dryRun({ prompt: "x", "new-session": "true", approve: "false" })).command).toEqual(["pod", "run", "x", "--new", "--format", "jsonl"]);
  });

  it("refuses contradictory or empty inputs; sends a huge prompt on stdin", async () => {
    expect(await dryRun({ approve: "true", deny: "no" })).toMatchObject({ code: 2, error: expect.stringContaining("not both") });
    expect(await dryRun({ prompt: "  " })).toMatchObject({ code: 2, error: expect.stringContaining("prompt") });
    const big = await dryRun({ prompt: "x".repeat(100_000) });
    expect(big).toMatchObject({ code: 0, stdin: true });
    expect(big.command.slice(0, 3)).toEqual(["pod", "run", "-"]);
  });

  it("every flag it builds exists in the built pod (flags still being added on other branches are listed)", async () => {
    const help = (cmd: string) =>
      new Promise<string>((resolve) => {
        const c = spawn(process.execPath, [POD_BIN, cmd, "--help"], { stdio: ["ignore", "pipe", "ignore"] });
        let out = "";
        c.stdout.setEncoding("utf8").on("data", (d: string) => (out += d));
        c.on("close", () => resolve(out));
      });
    const [run, resume] = [await help("run"), await help("resume")];
    // --session/--new/--output-schema/--max-budget-usd/--timeout are SPEC run options being
    // implemented on another branch; until they land, this only checks the rest.
    const pending = new Set(["--session", "--new", "--output-schema", "--max-budget-usd", "--timeout"]);
    for (const flag of ["--max-turns", "--model", "--manifest", "--runtime-dir", "--format", ...pending]) if (!pending.has(flag) || run.includes(flag)) expect(run).toContain(flag);
    for (const flag of ["--approve", "--deny"]) expect(resume).toContain(flag);
  });
});

describe("the action's script, run for real", () => {
  it("runs pod, writes events and outputs; a pause in one job is approved in the next", async () => {
    server = await startFakeServer({
      turns: [
        { response: { content: [{ type: "tool_use", id: "toolu_w", name: "Write", input: { path: "out.txt", content: "done\n" } }], stop_reason: "tool_use" } },
        { response: { content: [{ type: "text", text: "Wrote out.txt.\nAll set." }] } },
      ],
    });
    const dir = await makeProject(manifest({ extra: '\n[tools]\nask = ["Write"]\n' }));
    const outputsDir = await mkdtemp(path.join(tmpdir(), "pod-action-"));
    const env = (job: string, inputs: Record<string, string>) => ({
      ...podEnv(server!.url),
      POD_COMMAND: `${process.execPath} ${POD_BIN}`,
      GITHUB_OUTPUT: path.join(outputsDir, job),
      ...inputsEnv({ "working-directory": dir, ...inputs }),
    });

    // Job 1: the run pauses at the approval gate; paused is not a failed step.
    const first = await runScript([], env("job1", { prompt: "write out.txt" }), outputsDir);
    expect(first.code).toBe(0);
    expect(first.stderr).toContain("paused for approval");
    const out1 = parseOutputs(await readFile(path.join(outputsDir, "job1"), "utf8"));
    expect(out1).toMatchObject({ result: "paused", "exit-code": "10" });
    expect(out1["session-id"]).toMatch(/^\d{8}T\d{6}Z-[0-9a-f]{6}$/);
    expect(existsSync(path.join(dir, "out.txt"))).toBe(false);

    // Job 2 (the runtime dir restored from the cache): approve.
    const second = await runScript([], env("job2", { approve: "true" }), outputsDir);
    expect(second.code).toBe(0);
    const out2 = parseOutputs(await readFile(path.join(outputsDir, "job2"), "utf8"));
    expect(out2).toMatchObject({ result: "finished", "exit-code": "0", "session-id": out1["session-id"], output: "Wrote out.txt.\nAll set." });
    expect(await readFile(path.join(dir, "out.txt"), "utf8")).toBe("done\n");

    // The events file holds both jobs' lines, every one JSON.
    const events = parseJsonl(await readFile(out2["events-file"]!, "utf8"));
    expect(events.filter((e) => e.type === "run_end").map((e) => e.result)).toEqual(["paused", "finished"]);
  });

  it("a failed run fails the step with pod's exit code and still writes the outputs", async () => {
    const dir = await makeProject(manifest({ scope: false }));
    const outputs = path.join(await mkdtemp(path.join(tmpdir(), "pod-action-")), "out");
    const r = await runScript([], {
      ...podEnv("http://127.0.0.1:9", { ANTHROPIC_API_KEY: "sk-ant-…" }),
      POD_COMMAND: `${process.execPath} ${POD_BIN}`,
      GITHUB_OUTPUT: outputs,
      ...inputsEnv({ "working-directory": dir, prompt: "hi" }),
    });
    expect(r.code).toBe(2);
    expect(parseOutputs(await readFile(outputs, "utf8"))).toMatchObject({ result: "error", "exit-code": "2", "error-code": "invalid_credentials" });
  });
});
