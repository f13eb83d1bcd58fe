import { existsSync } from "node:fs";
import { readFile } from "node:fs/promises";
import path from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import { startFakeServer, type FakeServer } from "../fake-server/server.js";
import { withoutCacheControl } from "../helpers/api-history.js";
import { collect, makeProject, manifest, ofType, podEnv, runPod, spawnPod, TEST_API_KEY } from "../helpers/pod-process.js";

const usage = (input: number, output: number) => ({ input_tokens: input, output_tokens: output, cache_read_input_tokens: 0, cache_creation_input_tokens: 0 });
const textTurn = (text: string, extra: object = {}) => ({
  response: { content: [{ type: "text", text }], stop_reason: "end_turn", usage: usage(50, 10) },
  ...extra,
});

let server: FakeServer | undefined;
afterEach(async () => {
  await server?.close();
  server = undefined;
});

describe("pod run end to end", () => {
  it("streams a text-only run as JSONL and saves history and status", async () => {
    server = await startFakeServer({ turns: [textTurn("Hello from the fake model.", { delivery: { text_split: 4, chunk_bytes: 13 } })] });
    const dir = await makeProject(manifest({ scope: false }));
    const r = await runPod(["run", "say hello"], { cwd: dir, env: podEnv(server.url) });

    expect(r.code).toBe(0);
    const types = r.events.map((e) => e.type);
    expect(types[0]).toBe("run_start");
    expect(types.at(-1)).toBe("run_end");
    expect(types.filter((t) => t === "run_end")).toHaveLength(1);
    expect(r.events.map((e) => e.seq)).toEqual(r.events.map((_, i) => i));
    const sessionId = r.events[0].session_id;
    expect(sessionId).toMatch(/^\d{8}T\d{6}Z-[0-9a-f]{6}$/);
    expect(r.events.every((e) => e.v === 1 && e.session_id === sessionId && !Number.isNaN(Date.parse(e.ts)))).toBe(true);
    expect(r.events[0]).toMatchObject({ pod: "tester", mode: "run", model: "claude-sonnet-5-5", input: "say hello" });
    // The text arrives in several deltas that add up to the done text.
    const deltas = ofType(r.events, "text_delta").map((e) => e.text);
    expect(deltas.length).toBeGreaterThan(1);
    expect(deltas.join("")).toBe("Hello from the fake model.");
    expect(ofType(r.events, "text_done")[0].text).toBe("Hello from the fake model.");
    expect(ofType(r.events, "usage")[0]).toMatchObject({ input_tokens: 50, output_tokens: 10 });
    expect(ofType(r.events, "turn_end")[0]).toMatchObject({ turn: 1, stop_reason: "end_turn" });
    expect(r.events.at(-1)).toMatchObject({ result: "finished", turns: 1, usage: usage(50, 10) });

    // What pod sent: model, system prompt, the prompt, no tools without [scope].
    expect(server.requests).toHaveLength(1);
    const body = server.requests[0]!.body;
    expect(body.model).toBe("claude-sonnet-5-5");
    expect(JSON.stringify(body.system)).toContain("You fix code.");
    expect(body.stream).toBe(true);
    expect(body.tools).toBeUndefined();
    expect(withoutCacheControl(body.messages)).toEqual([{ role: "user", content: [{ type: "text", text: "say hello" }] }]);
    // Prompt caching: the system prompt and the end of the conversation are breakpoints.
    expect(body.system).toEqual([{ type: "text", text: "You fix code.", cache_control: { type: "ephemeral" } }]);
    expect(body.messages[0].content[0].cache_control).toEqual({ type: "ephemeral" });

    const status = JSON.parse(await readFile(path.join(dir, ".pod/tester/status.json"), "utf8"));
    expect(status).toMatchObject({ pod: "tester", session_id: sessionId, status: "idle", turn: 1, last_result: "finished", pending: null });
    expect(status.pid).toBeUndefined();
    expect(status.usage).toEqual(usage(50, 10));
    expect(existsSync(path.join(dir, ".pod/tester/manifest.toml"))).toBe(true);

    const history = await runPod(["history"], { cwd: dir, env: podEnv(undefined) });
    expect(history.code).toBe(0);
    expect(history.events.map((m) => m.role)).toEqual(["user", "assistant"]);
    expect(history.events[1].content).toEqual([{ type: "text", text: "Hello from the fake model." }]);
  });

  it("continues the same session on a second run", async () => {
    server = await startFakeServer({
      turns: [textTurn("First answer."), textTurn("Second answer.", { expect: { last_user_text_includes: "and now" } })],
    });
    const dir = await makeProject(manifest({ scope: false }));
    const env = podEnv(server.url);
    const first = await runPod(["run", "first task"], { cwd: dir, env });
    const second = await runPod(["run", "and now the second"], { cwd: dir, env });
    expect([first.code, second.code]).toEqual([0, 0]);
    expect(second.events[0].session_id).toBe(first.events[0].session_id);
    expect(server.mismatches).toEqual([]);
    expect(withoutCacheControl(server.requests[1]!.body.messages)).toEqual([
      { role: "user", content: [{ type: "text", text: "first task" }] },
      { role: "assistant", content: [{ type: "text", text: "First answer." }] },
      { role: "user", content: [{ type: "text", text: "and now the second" }] },
    ]);
    expect(ofType(second.events, "turn_start")[0].turn).toBe(2);
    const status = JSON.parse(await readFile(path.join(dir, ".pod/tester/status.json"), "utf8"));
    expect(status.turn).toBe(2);
    expect(status.usage.input_tokens).toBe(100);

    const sessions = await runPod(["sessions"], { cwd: dir, env: podEnv(undefined) });
    expect(sessions.events).toEqual([expect.objectContaining({ id: first.events[0].session_id, messages: 4, current: true })]);
  });

  it("pod new starts a fresh session and keeps the old one", async () => {
    server = await startFakeServer({ turns: [textTurn("One."), textTurn("Two.")] });
    const dir = await makeProject(manifest({ scope: false }));
    const env = podEnv(server.url);
    const first = await runPod(["run", "one"], { cwd: dir, env });
    expect((await runPod(["new"], { cwd: dir, env })).code).toBe(0);
    const second = await runPod(["run", "two"], { cwd: dir, env });
    expect(second.events[0].session_id).not.toBe(first.events[0].session_id);
    expect(server.requests[1]!.body.messages).toHaveLength(1);
    const sessions = (await runPod(["sessions"], { cwd: dir, env })).events;
    expect(sessions).toHaveLength(2);
    expect(sessions.filter((s) => s.current).map((s) => s.id)).toEqual([second.events[0].session_id]);
    expect(sessions.map((s) => s.id)).toContain(first.events[0].session_id);
  });

  it("runs tools and edits a file across turns", async () => {
    server = await startFakeServer({
      turns: [
        {
          response: {
            content: [
              { type: "text", text: "Let me look." },
              { type: "tool_use", id: "toolu_read", name: "Read", input: { path: "src/add.js" } },
            ],
            stop_reason: "tool_use",
            usage: usage(100, 20),
          },
        },
        {
          expect: { tool_result_for: "toolu_read" },
          response: {
            content: [{ type: "tool_use", id: "toolu_edit", name: "Edit", input: { path: "src/add.js", old_string: "a - b", new_string: "a + b" } }],
            stop_reason: "tool_use",
            usage: usage(200, 30),
          },
        },
        { expect: { tool_result_for: "toolu_edit" }, ...textTurn("Fixed: add now adds.") },
      ],
    });
    const dir = await makeProject(manifest(), { "src/add.js": "export const add = (a, b) => a - b;\n" });
    const r = await runPod(["run", "fix add"], { cwd: dir, env: podEnv(server.url) });
    expect(r.code).toBe(0);
    expect(server.mismatches).toEqual([]);
    expect(await readFile(path.join(dir, "src/add.js"), "utf8")).toBe("export const add = (a, b) => a + b;\n");

    const starts = ofType(r.events, "tool_call_start");
    expect(starts.map((e) => e.name)).toEqual(["Read", "Edit"]);
    const argDeltas = ofType(r.events, "tool_call_args_delta").filter((e) => e.id === "toolu_edit");
    expect(JSON.parse(argDeltas.map((e) => e.json).join(""))).toEqual({ path: "src/add.js", old_string: "a - b", new_string: "a + b" });
    expect(ofType(r.events, "tool_call_done")[1]).toMatchObject({ id: "toolu_edit", name: "Edit", input: { old_string: "a - b" } });
    const results = ofType(r.events, "tool_result");
    expect(results.map((e) => [e.id, e.is_error])).toEqual([
      ["toolu_read", false],
      ["toolu_edit", false],
    ]);
    expect(results[0].output).toContain("a - b");
    expect(r.events.at(-1)).toMatchObject({ result: "finished", turns: 3, usage: { input_tokens: 350, output_tokens: 60 } });

    // The model got the tools' schemas and, on turn 2, the Read result paired with its tool_use.
    expect(server.requests[0]!.body.tools.map((t: any) => t.name)).toEqual(expect.arrayContaining(["Read", "Write", "Edit", "Glob", "Grep"]));
    const turn2 = server.requests[1]!.body.messages;
    expect(turn2.at(-1).content[0]).toMatchObject({ type: "tool_result", tool_use_id: "toolu_read" });
  });

  it("greps a tree big enough for Grep's worker threads, from the built binary", async () => {
    server = await startFakeServer({
      turns: [
        {
          response: {
            content: [
              { type: "tool_use", id: "toolu_grep", name: "Grep", input: { pattern: "TODO\\(\\w+\\)", output_mode: "content", head_limit: 1000 } },
              // Case-insensitive: the WebAssembly prefilter, inside the built worker bundle.
              { type: "tool_use", id: "toolu_grep_ci", name: "Grep", input: { pattern: "todo\\(ANN\\) FIX", case_insensitive: true, head_limit: 1000 } },
            ],
            stop_reason: "tool_use",
            usage: usage(100, 20),
          },
        },
        { expect: { tool_result_for: "toolu_grep_ci" }, ...textTurn("Found them.") },
      ],
    });
    const files: Record<string, string> = { ".gitignore": "gen/\n" };
    const want: string[] = [];
    for (let i = 0; i < 2500; i++) {
      const name = `${i % 10 === 0 ? "gen" : `lib/d${i % 25}`}/m${i}.js`;
      const todo = i % 97 === 0;
      files[name] = `export const v${i} = ${i};\n${todo ? `// TODO(ann) fix ${i}\n` : ""}`;
      if (todo && i % 10 !== 0) want.push(`${name}:2:// TODO(ann) fix ${i}`);
    }
    const dir = await makeProject(manifest(), files);
    const r = await runPod(["run", "find the todos"], { cwd: dir, env: podEnv(server.url) });
    expect(r.code).toBe(0);
    const result = ofType(r.events, "tool_result")[0];
    expect(result).toMatchObject({ id: "toolu_grep", is_error: false });
    expect(result.output.split("\n")).toEqual(want.sort());
    const ci = ofType(r.events, "tool_result")[1];
    expect(ci).toMatchObject({ id: "toolu_grep_ci", is_error: false });
    expect(ci.output.split("\n")).toEqual(want.map((line) => line.split(":")[0]).sort());
    // The worker bundle was found and answered; a broken pool says so on stderr.
    expect(r.stderr).not.toMatch(/worker/);
  });

  it("stops at the turn limit with limit_reached and exit 11, and a later run continues", async () => {
    const loopTurn = (n: number) => ({
      response: {
        content: [{ type: "tool_use", id: `toolu_${n}`, name: "Glob", input: { pattern: "*.md" } }],
        stop_reason: "tool_use",
        usage: usage(10, 5),
      },
    });
    server = await startFakeServer({ turns: [loopTurn(1), loopTurn(2), textTurn("Done now.")] });
    const dir = await makeProject(manifest(), { "README.md": "# x\n" });
    const env = podEnv(server.url);
    const r = await runPod(["run", "loop", "--max-turns", "2"], { cwd: dir, env });
    expect(r.code).toBe(11);
    expect(r.events.at(-1)).toMatchObject({ type: "run_end", result: "limit_reached", limit: "turns", turns: 2 });
    const status = JSON.parse(await readFile(path.join(dir, ".pod/tester/status.json"), "utf8"));
    expect(status).toMatchObject({ status: "idle", last_result: "limit_reached", turn: 2 });

    const next = await runPod(["run", "go on"], { cwd: dir, env });
    expect(next.code).toBe(0);
    expect(next.events.at(-1)).toMatchObject({ result: "finished", turns: 1 });
    // The continued request carries the whole session, tool results paired.
    expect(server.requests[2]!.body.messages).toHaveLength(5);
  });

  it("refuses a second concurrent run with already_running and exit 3, touching nothing", async () => {
    server = await startFakeServer({ turns: [textTurn("x".repeat(400), { delivery: { text_split: 10, chunk_bytes: 40, delay_ms: 40 } })] });
    const dir = await makeProject(manifest({ scope: false }));
    const env = podEnv(server.url);
    const first = spawnPod(["run", "slow one"], { cwd: dir, env });
    const firstDone = collect(first);
    // Wait until the first process owns the pod (its run_start is on stdout).
    await new Promise<void>((resolve) => {
      let seen = "";
      first.stdout!.on("data", (d: Buffer) => {
        seen += d.toString();
        if (seen.includes('"run_start"')) resolve();
      });
    });
    const statusBefore = await readFile(path.join(dir, ".pod/tester/status.json"), "utf8");
    const second = await runPod(["run", "second"], { cwd: dir, env });
    expect(second.code).toBe(3);
    expect(second.events).toHaveLength(1);
    expect(second.events[0]).toMatchObject({ type: "error", code: "already_running" });
    expect(await readFile(path.join(dir, ".pod/tester/status.json"), "utf8")).toBe(statusBefore);

    const done = await firstDone;
    expect(done.code).toBe(0);
    expect(server.requests).toHaveLength(1);
    const history = await runPod(["history"], { cwd: dir, env });
    expect(history.events.map((m) => m.content[0].text)).toEqual(["slow one", "x".repeat(400)]);
  });

  it("rejects an invalid manifest with exit 2, naming file, line and key, without touching the runtime dir", async () => {
    const dir = await makeProject('[pod]\nname = "ok"\nmax_turns = "ten"\n');
    const r = await runPod(["run", "hi"], { cwd: dir, env: podEnv("http://127.0.0.1:9") });
    expect(r.code).toBe(2);
    expect(r.events).toHaveLength(1);
    expect(r.events[0]).toMatchObject({ type: "error", code: "invalid_manifest", session_id: null });
    expect(r.events[0].message).toContain(`${path.join(dir, "pod.toml")}:3`);
    expect(r.events[0].message).toContain("max_turns");
    expect(existsSync(path.join(dir, ".pod"))).toBe(false);

    const syntax = await makeProject('[pod\nname = "ok"\n');
    const s = await runPod(["status"], { cwd: syntax, env: podEnv(undefined) });
    expect(s.code).toBe(2);
    expect(s.events[0].message).toMatch(/pod\.toml:1:\d+/);

    const unknown = await makeProject('[pod]\nname = "ok"\nmax_turn = 3\n');
    const u = await runPod(["run", "hi"], { cwd: unknown, env: podEnv("http://127.0.0.1:9") });
    expect(u.code).toBe(2);
    expect(u.events[0].message).toContain("pod.toml:3");
    expect(u.events[0].message).toContain("max_turn");
  });

  it("explains a missing API key with exit 2 and never creates runtime files", async () => {
    const dir = await makeProject(manifest({ scope: false }));
    const r = await runPod(["run", "hi"], { cwd: dir, env: podEnv("http://127.0.0.1:9", { ANTHROPIC_API_KEY: undefined, ANTHROPIC_AUTH_TOKEN: undefined }) });
    expect(r.code).toBe(2);
    expect(r.events).toEqual([expect.objectContaining({ type: "error", code: "invalid_credentials" })]);
    expect(r.events[0].message).toContain("ANTHROPIC_API_KEY");
    expect(existsSync(path.join(dir, ".pod"))).toBe(false);
  });

  it("reports a provider error with exit 1, keeps history, and never prints the API key", async () => {
    server = await startFakeServer({ turns: [{ fault: { kind: "http", status: 500, times: 10 }, ...textTurn("never") }] });
    const dir = await makeProject(manifest({ scope: false }));
    const r = await runPod(["run", "hi"], { cwd: dir, env: podEnv(server.url, { POD_MAX_RETRIES: "0" }) });
    expect(r.code).toBe(1);
    expect(ofType(r.events, "error")[0]).toMatchObject({ code: "provider_error" });
    expect(r.events.at(-1)).toMatchObject({ type: "run_end", result: "error" });
    expect(r.stdout + r.stderr).not.toContain(TEST_API_KEY);
    const history = await runPod(["history"], { cwd: dir, env: podEnv(undefined) });
    expect(history.events.map((m) => m.role)).toEqual(["user"]);
  });

  it("rejects empty prompts and unknown options as usage errors", async () => {
    const dir = await makeProject(manifest({ scope: false }));
    const empty = await runPod(["run", "  "], { cwd: dir, env: podEnv("http://127.0.0.1:9") });
    expect(empty.code).toBe(2);
    expect(empty.events[0]).toMatchObject({ type: "error", code: "invalid_input" });
    const unknown = await runPod(["run", "x", "--frobnicate"], { cwd: dir, env: podEnv("http://127.0.0.1:9") });
    expect(unknown.code).toBe(2);
    expect(unknown.stderr).toContain("--frobnicate");
    expect(existsSync(path.join(dir, ".pod"))).toBe(false);
  });
});
