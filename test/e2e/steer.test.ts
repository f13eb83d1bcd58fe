import { execFile, execFileSync } from "node:child_process";
import { realpathSync } from "node:fs";
import { promisify } from "node:util";
import { readFile, writeFile } from "node:fs/promises";
import path from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import { startFakeServer, type FakeServer } from "../fake-server/server.js";
import { apiHistoryProblems } from "../helpers/api-history.js";
import { makeProject, manifest, ofType, podEnv, POD_BIN, runPod } from "../helpers/pod-process.js";

/** A command whose stdout is a document, not event lines. */
const runText = async (args: string[], cwd: string) =>
  (await promisify(execFile)(process.execPath, [POD_BIN, ...args], { cwd, env: podEnv(undefined) as NodeJS.ProcessEnv })).stdout;

/**
 * The options CI users steer a run with (issue 14): the built-in system prompt and
 * instruction files, structured output, budget, time limit, sessions, disabled tools.
 * Each runs the built binary against the fake Messages API.
 */
const usage = (input: number, output: number) => ({ input_tokens: input, output_tokens: output, cache_read_input_tokens: 0, cache_creation_input_tokens: 0 });
const textTurn = (text: string, extra: object = {}) => ({ response: { content: [{ type: "text", text }], stop_reason: "end_turn", usage: usage(50, 10) }, ...extra });
const toolTurn = (id: string, name: string, input: object, extra: object = {}) => ({
  response: { content: [{ type: "tool_use", id, name, input }], stop_reason: "tool_use", usage: usage(100, 20) },
  ...extra,
});
const systemText = (body: any): string => body.system.map((b: any) => b.text).join("");
const status = async (dir: string) => JSON.parse(await readFile(path.join(dir, ".pod/tester/status.json"), "utf8"));

let server: FakeServer | undefined;
afterEach(async () => {
  await server?.close();
  server = undefined;
});

/** The test manifest without its system_prompt line, so the built-in prompt is used. */
const builtInManifest = (extra = "") => manifest({ extra }).replace('system_prompt = "You fix code."\n', "");

describe("the built-in system prompt and instruction files", () => {
  it("names the environment and the tools' limits, includes instruction files from the git root down, and is byte-identical across turns", async () => {
    // The model also calls Write, which [tools] disabled hides: it is answered as an unknown tool.
    const readAndWrite = {
      response: {
        content: [
          { type: "tool_use", id: "toolu_1", name: "Read", input: { path: "hello.txt" } },
          { type: "tool_use", id: "toolu_w", name: "Write", input: { path: "hello.txt", content: "pwned" } },
        ],
        stop_reason: "tool_use",
        usage: usage(100, 20),
      },
    };
    server = await startFakeServer({ turns: [readAndWrite, textTurn("It says hi.", { expect: { tool_result_for: "toolu_w" } })] });
    // A git repository whose root has AGENTS.md; the pod lives in svc/ with its own CLAUDE.md.
    const repo = await makeProject("", { "AGENTS.md": "ROOT-RULE: use tabs.\n", "svc/CLAUDE.md": "SVC-RULE: run make check.\n", "svc/hello.txt": "hi\n" });
    const git = (...args: string[]) => execFileSync("git", args, { cwd: repo, stdio: "pipe" });
    git("init", "-q", "-b", "trunk");
    await writeFile(
      path.join(repo, "svc/pod.toml"),
      builtInManifest(
        '\n[tools]\ndisabled = ["Write"]\n[tools.bash]\nenabled = true\nallow = ["make check", "npx vitest run *"]\nnetwork = false\n',
      ).replace("max_turns = 10", 'max_turns = 10\nappend_system_prompt = "APPENDED-LINE"'),
    );
    const dir = path.join(repo, "svc");
    const r = await runPod(["run", "what does hello.txt say?"], { cwd: dir, env: podEnv(server.url) });
    expect(r.code).toBe(0);
    expect(server.mismatches).toEqual([]);
    expect(r.events[0]).toMatchObject({ type: "run_start", instructions: ["../AGENTS.md", "CLAUDE.md"] });
    const denied = ofType(r.events, "tool_result").find((e) => e.id === "toolu_w");
    expect(denied).toMatchObject({ is_error: true });
    expect(denied.output).toContain('Unknown tool "Write"');
    expect(await readFile(path.join(repo, "svc/hello.txt"), "utf8")).toBe("hi\n");

    const [first, second] = server.requests.map((q) => q.body);
    // Byte-stable across the turns of a run: the prompt cache keeps hitting.
    expect(JSON.stringify(second.system)).toBe(JSON.stringify(first.system));
    const system = systemText(first);
    expect(system).toContain("Never ask questions");
    expect(system).toContain(`Workspace root: ${realpathSync(dir)}`);
    expect(system).toMatch(/OS: (Linux|macOS) /);
    expect(system).toContain(`Date: ${new Date().toISOString().slice(0, 10)}`);
    expect(system).toContain("Git: branch trunk");
    expect(system).toContain('"make check", "npx vitest run *"');
    expect(system).toContain("network off");
    expect(system).toMatch(/Protected, never writable.*pod\.toml.*\.git\//);
    // Disabled tools are neither described nor offered.
    expect(system).toContain("File tools: Read, Edit, Glob, Grep.");
    expect(first.tools.map((t: any) => t.name)).toEqual(["Read", "Edit", "Glob", "Grep", "Bash"]);
    // Order: built-in, append_system_prompt, instruction files outermost first.
    const at = (s: string) => system.indexOf(s);
    expect(at("# Environment")).toBeLessThan(at("APPENDED-LINE"));
    expect(at("APPENDED-LINE")).toBeLessThan(at("ROOT-RULE"));
    expect(at("ROOT-RULE")).toBeLessThan(at("SVC-RULE"));

    // `pod prompt` and `pod run --print-system-prompt` print exactly what was sent.
    expect(await runText(["prompt"], dir)).toBe(system + "\n");
    expect(await runText(["run", "--print-system-prompt"], dir)).toBe(system + "\n");
  });

  it("instructions = [] loads none, and system_prompt replaces the built-in prompt", async () => {
    const dir = await makeProject(manifest({ extra: "" }).replace("max_turns = 10", "max_turns = 10\ninstructions = []"), { "AGENTS.md": "NOT-LOADED\n" });
    expect(await runText(["prompt"], dir)).toBe("You fix code.\n");
  });
});

const VERDICT_SCHEMA = {
  $schema: "https://json-schema.org/draft/2020-12/schema",
  type: "object",
  properties: { verdict: { enum: ["pass", "fail"] }, reasons: { type: "array", items: { type: "string" } } },
  required: ["verdict", "reasons"],
  additionalProperties: false,
};

describe("structured output (--output-schema) and -o", () => {
  it("accepts a valid final answer: run_end.output, the -o file, and the schema as the final_answer tool", async () => {
    const answer = { verdict: "pass", reasons: ["tests are green"] };
    server = await startFakeServer({ turns: [toolTurn("toolu_a", "final_answer", answer), textTurn("You are welcome.")] });
    const dir = await makeProject(manifest({ scope: false }), { "schema.json": JSON.stringify(VERDICT_SCHEMA) });
    const r = await runPod(["run", "judge it", "--output-schema", "schema.json", "-o", "out/answer.json"], { cwd: dir, env: podEnv(server.url) });
    // -o into a directory that does not exist is refused before anything runs.
    expect(r.code).toBe(2);
    expect(r.events).toMatchObject([{ type: "error", code: "invalid_input" }]);

    const ok = await runPod(["run", "judge it", "--output-schema", "schema.json", "-o", "answer.json"], { cwd: dir, env: podEnv(server.url) });
    expect(ok.code).toBe(0);
    expect(ok.events.at(-1)).toMatchObject({ type: "run_end", result: "finished", output: answer });
    expect(JSON.parse(await readFile(path.join(dir, "answer.json"), "utf8"))).toEqual(answer);
    const tool = server.requests[0]!.body.tools.find((t: any) => t.name === "final_answer");
    expect(tool.input_schema).toMatchObject({ type: "object", required: ["verdict", "reasons"] });
    expect(tool.input_schema.$schema).toBeUndefined();

    // The next run without a schema: the history holds tool blocks, and the API refuses those
    // in a request without tools, so a placeholder final_answer is still defined.
    const next = await runPod(["run", "thanks"], { cwd: dir, env: podEnv(server.url) });
    expect(next.code).toBe(0);
    expect(server.requests[1]!.body.tools.map((t: any) => t.name)).toEqual(["final_answer"]);
    expect(apiHistoryProblems(server.requests[1]!.body.messages)).toEqual([]);
  });

  it("tells the model why an answer is invalid and accepts the corrected one (draft-07)", async () => {
    server = await startFakeServer({
      turns: [
        toolTurn("toolu_1", "final_answer", { verdict: "maybe" }),
        toolTurn("toolu_2", "final_answer", { verdict: "fail", reasons: ["flaky"] }, { expect: { tool_result_for: "toolu_1" } }),
      ],
    });
    const schema = { ...VERDICT_SCHEMA, $schema: "http://json-schema.org/draft-07/schema#" };
    const dir = await makeProject(manifest({ scope: false }), { "schema.json": JSON.stringify(schema) });
    const r = await runPod(["run", "judge it", "--output-schema", "schema.json"], { cwd: dir, env: podEnv(server.url) });
    expect(r.code).toBe(0);
    expect(server.mismatches).toEqual([]);
    const rejection = ofType(r.events, "tool_result")[0];
    expect(rejection).toMatchObject({ name: "final_answer", is_error: true });
    expect(rejection.output).toContain("/verdict must be equal to one of the allowed values");
    expect(rejection.output).toContain("must have required property 'reasons'");
    expect(r.events.at(-1)).toMatchObject({ result: "finished", turns: 2, output: { verdict: "fail", reasons: ["flaky"] } });
  });

  it("fails with output_invalid and exit 1 after the answer is invalid three times", async () => {
    server = await startFakeServer({
      turns: [
        toolTurn("toolu_1", "final_answer", { verdict: "maybe", reasons: [] }),
        // A plain-text answer that is not JSON counts as an attempt too.
        textTurn("I think it passes.", { expect: { tool_result_for: "toolu_1" } }),
        toolTurn("toolu_3", "final_answer", { verdict: "pass" }, { expect: { last_user_text_includes: "Call the final_answer tool" } }),
        textTurn("never asked"),
      ],
    });
    const dir = await makeProject(manifest({ scope: false }), { "schema.json": JSON.stringify(VERDICT_SCHEMA) });
    const r = await runPod(["run", "judge it", "--output-schema", "schema.json", "-o", "answer.json"], { cwd: dir, env: podEnv(server.url) });
    expect(r.code).toBe(1);
    expect(server.requests).toHaveLength(3);
    expect(ofType(r.events, "error")).toMatchObject([{ code: "output_invalid" }]);
    expect(r.events.at(-1)).toMatchObject({ type: "run_end", result: "error", turns: 3 });
    expect(r.events.at(-1).output).toBeUndefined();
    await expect(readFile(path.join(dir, "answer.json"))).rejects.toThrow();
  });

  it("without a schema, -o writes the final text", async () => {
    server = await startFakeServer({ turns: [textTurn("All done: fixed the off-by-one.")] });
    const dir = await makeProject(manifest({ scope: false }));
    const r = await runPod(["run", "fix it", "--output-last-message", "last.txt"], { cwd: dir, env: podEnv(server.url) });
    expect(r.code).toBe(0);
    expect(await readFile(path.join(dir, "last.txt"), "utf8")).toBe("All done: fixed the off-by-one.");
  });
});

describe("budget and time limits", () => {
  it("stops before the request that would exceed the budget (exit 11, limit budget); a later run continues", async () => {
    server = await startFakeServer({
      turns: [toolTurn("toolu_1", "Read", { path: "a.txt" }), textTurn("Finished.", { expect: { tool_result_for: "toolu_1" } })],
    });
    // [pricing] makes each turn cost $1 (100 input tokens at $10000 per million): priced by the override, not the table.
    const dir = await makeProject(manifest({ extra: '\n[pricing."claude-sonnet-5-5"]\ninput = 10000\noutput = 0\n' }), { "a.txt": "a\n" });
    const env = podEnv(server.url);
    const r = await runPod(["run", "read a", "--max-budget-usd", "0.5"], { cwd: dir, env });
    expect(r.code).toBe(11);
    expect(r.events.at(-1)).toMatchObject({ type: "run_end", result: "limit_reached", limit: "budget", turns: 1, cost_usd: 1 });
    expect(server.requests).toHaveLength(1);
    expect(await status(dir)).toMatchObject({ status: "idle", last_result: "limit_reached" });

    const next = await runPod(["run", "go on"], { cwd: dir, env });
    expect(next.code).toBe(0);
    expect(server.mismatches).toEqual([]);
    expect(apiHistoryProblems(server.requests[1]!.body.messages)).toEqual([]);
  });

  it("on --timeout, a running Bash call is stopped and the calls after it are not run; history stays consistent", async () => {
    const twoCalls = {
      response: {
        content: [
          { type: "tool_use", id: "toolu_sleep", name: "Bash", input: { command: "sleep 30" } },
          { type: "tool_use", id: "toolu_after", name: "Read", input: { path: "a.txt" } },
        ],
        stop_reason: "tool_use",
        usage: usage(100, 20),
      },
    };
    server = await startFakeServer({ turns: [twoCalls, textTurn("Picked up.", { expect: { tool_result_for: "toolu_after" } })] });
    const dir = await makeProject(manifest({ extra: '\n[tools.bash]\nenabled = true\nallow = ["sleep *"]\nsandbox = "off"\n' }), { "a.txt": "a\n" });
    const env = podEnv(server.url);
    const started = Date.now();
    const r = await runPod(["run", "sleep then read", "--timeout", "2s"], { cwd: dir, env });
    expect(r.code).toBe(11);
    expect(Date.now() - started).toBeLessThan(25_000);
    expect(r.events.at(-1)).toMatchObject({ result: "limit_reached", limit: "time", turns: 1 });
    const results = ofType(r.events, "tool_result");
    expect(results.map((e) => [e.id, e.is_error])).toEqual([
      ["toolu_sleep", true],
      ["toolu_after", true],
    ]);
    expect(results[1].output).toMatch(/^Not run/);
    expect(await status(dir)).toMatchObject({ status: "paused", last_result: "limit_reached" });

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
    const started = Date.now();
    const r = await runPod(["run", "slow task", "--timeout", "1500ms"], { cwd: dir, env });
    expect(r.code).toBe(11);
    expect(Date.now() - started).toBeLessThan(20_000);
    expect(r.events.at(-1)).toMatchObject({ type: "run_end", result: "limit_reached", limit: "time", turns: 0 });
    // The in-flight stream was dropped: the history ends with the prompt, and the pod is resumable.
    expect(await status(dir)).toMatchObject({ status: "paused", last_result: "limit_reached" });
    const history = await runPod(["history"], { cwd: dir, env });
    expect(history.events.map((m) => m.role)).toEqual(["user"]);

    const resumed = await runPod(["resume"], { cwd: dir, env });
    expect(resumed.code).toBe(0);
    expect(resumed.events.at(-1)).toMatchObject({ result: "finished", turns: 1 });
  });
});

describe("sessions: --new, --session, not_found", () => {
  it("starts fresh with --new, continues a stored session with --session (it becomes current), refuses unknown ids", async () => {
    server = await startFakeServer({
      turns: [
        textTurn("one"),
        textTurn("two", { expect: { last_user_text_includes: "fresh" } }),
        textTurn("three", { expect: { last_user_text_includes: "back to the first" } }),
      ],
    });
    const dir = await makeProject(manifest({ scope: false }));
    const env = podEnv(server.url);
    const a = await runPod(["run", "first session"], { cwd: dir, env });
    const b = await runPod(["run", "fresh start", "--new"], { cwd: dir, env });
    const first = a.events[0].session_id;
    const second = b.events[0].session_id;
    expect(second).not.toBe(first);
    expect(server.requests[1]!.body.messages).toHaveLength(1);

    const c = await runPod(["run", "back to the first", "--session", first], { cwd: dir, env });
    expect([a.code, b.code, c.code]).toEqual([0, 0, 0]);
    expect(c.events[0].session_id).toBe(first);
    expect(server.requests[2]!.body.messages).toHaveLength(3);
    expect(await status(dir)).toMatchObject({ session_id: first, status: "idle" });
    expect(server.mismatches).toEqual([]);

    const other = await runPod(["history", "--session", second], { cwd: dir, env });
    expect(other.events.map((m) => m.content[0].text)).toEqual(["fresh start", "two"]);
    for (const args of [
      ["run", "x", "--session", "20260101T000000Z-abcdef"],
      ["run", "x", "--session", "../../etc/passwd"],
      ["history", "--session", "nope"],
      ["compact", "--session", "nope"],
    ]) {
      const r = await runPod(args, { cwd: dir, env });
      expect(r.code, args.join(" ")).toBe(2);
      expect(r.events, args.join(" ")).toMatchObject([{ type: "error", code: "not_found" }]);
    }
    expect(server.requests).toHaveLength(3);
  });
});
