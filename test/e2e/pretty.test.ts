import { execFile } from "node:child_process";
import { promisify } from "node:util";
import { Chalk } from "chalk";
import { afterEach, describe, expect, it } from "vitest";
import { colorsFor } from "../../src/events/colors.js";
import { renderEvent } from "../../src/events/pretty.js";
import { startFakeServer, type FakeServer } from "../fake-server/server.js";
import { makeProject, manifest, podEnv, POD_BIN, runPod } from "../helpers/pod-process.js";

const run = promisify(execFile);
const SGR = /\x1b\[[0-9;]*m/; // colour codes
const ANY_ESCAPE = /\x1b/;
const plain = new Chalk({ level: 0 });
const env = { v: 1 as const, seq: 0, ts: "2026-11-25T00:00:00.000Z", session_id: "s" };

let server: FakeServer | undefined;
afterEach(async () => {
  await server?.close();
  server = undefined;
});

describe("pretty rendering", () => {
  it("puts each tool call on one line with its key argument and a short result", () => {
    expect(renderEvent({ ...env, type: "tool_call_done", id: "t", name: "Read", input: { path: "src/calc.js" } }, plain)).toBe("  ⚙ Read src/calc.js\n");
    expect(renderEvent({ ...env, type: "tool_call_done", id: "t", name: "Bash", input: { command: "npm test" } }, plain)).toBe("  ⚙ Bash npm test\n");
    expect(renderEvent({ ...env, type: "tool_call_done", id: "t", name: "Grep", input: { pattern: "TODO", path: "src" } }, plain)).toBe("  ⚙ Grep TODO in src\n");
    expect(renderEvent({ ...env, type: "tool_result", id: "t", name: "Bash", is_error: false, output: "a\nb\nc\n[exit code: 1]", truncated: false }, plain)).toBe("    ✓ exit 1, 3 lines of output\n");
    expect(renderEvent({ ...env, type: "tool_result", id: "t", name: "Edit", is_error: true, output: "old_string was not found", truncated: false }, plain)).toBe("    ✗ old_string was not found\n");
  });

  it("shows thinking as streamed text (dimmed on a terminal)", () => {
    expect(renderEvent({ ...env, type: "thinking_delta", text: "hmm, " }, plain)).toBe("hmm, ");
  });

  it("ends with a summary line: result, turns, tokens, cost, duration", () => {
    const line = renderEvent(
      {
        ...env,
        type: "run_end",
        result: "finished",
        turns: 5,
        usage: { input_tokens: 7100, output_tokens: 175, cache_read_input_tokens: 900, cache_creation_input_tokens: 0 },
        cost_usd: 0.016,
        duration_ms: 3210,
        denials: [],
      },
      plain,
    );
    expect(line).toBe("■ finished · 5 turns · 7,100 in (900 cached) / 175 out · $0.0160 · 3.2s\n");
  });

  it("honours NO_COLOR and FORCE_COLOR, and never colours a non-terminal", () => {
    expect(colorsFor({ isTTY: true }, { NO_COLOR: "1" }).level).toBe(0);
    expect(colorsFor({ isTTY: false }, {}).level).toBe(0);
    expect(colorsFor({ isTTY: false }, { FORCE_COLOR: "1" }).level).toBeGreaterThan(0);
    expect(colorsFor({ isTTY: true }, { NO_COLOR: "1", FORCE_COLOR: "1" }).level).toBeGreaterThan(0);
    expect(colorsFor({ isTTY: true }, { FORCE_COLOR: "0" }).level).toBe(0);
  });
});

describe("pretty output on a real terminal", () => {
  const turns = [
    { response: { content: [{ type: "text", text: "Let me look." }, { type: "tool_use", id: "t1", name: "Read", input: { path: "a.txt" } }], stop_reason: "tool_use" } },
    { response: { content: [{ type: "text", text: "It says hello." }], stop_reason: "end_turn" } },
  ];

  /** Runs pod under `script`, which gives it a pseudo-terminal for stdin, stdout and stderr. */
  async function inTerminal(extraEnv: Record<string, string>) {
    server = await startFakeServer({ turns });
    const dir = await makeProject(manifest(), { "a.txt": "hello\n" });
    const e = podEnv(server.url, { NO_COLOR: undefined, FORCE_COLOR: undefined, ...extraEnv, TERM: "xterm-256color" });
    const { stdout } = await run("script", ["-qec", `${process.execPath} ${POD_BIN} run "read a.txt"`, "/dev/null"], { cwd: dir, env: e as NodeJS.ProcessEnv });
    return stdout;
  }

  it("is the default on a TTY: colours, streamed text, tool lines, summary; no JSON", async () => {
    const out = await inTerminal({});
    expect(out).toMatch(SGR);
    const text = out.replace(/\x1b\[[0-9;]*[A-Za-z]/g, "");
    expect(text).toContain("▶ tester");
    expect(text).toContain("Let me look.");
    expect(text).toContain("⚙ Read a.txt");
    expect(text).toContain("It says hello.");
    expect(text).toMatch(/■ finished · 2 turns/);
    expect(text).not.toContain('"type"');
  });

  it("prints no colour codes with NO_COLOR on a TTY", async () => {
    const out = await inTerminal({ NO_COLOR: "1" });
    expect(out).not.toMatch(SGR);
    expect(out).toContain("■ finished");
  });

  it("prints no control codes at all when --format pretty goes to a pipe", async () => {
    server = await startFakeServer({ turns });
    const dir = await makeProject(manifest(), { "a.txt": "hello\n" });
    const child = await runPodRaw(dir, ["run", "read a.txt", "--format", "pretty"]);
    expect(child.stdout).toContain("■ finished");
    expect(child.stdout).not.toMatch(ANY_ESCAPE);
    expect(child.stderr).not.toMatch(ANY_ESCAPE);
  });

  async function runPodRaw(dir: string, args: string[]) {
    const e = podEnv(server!.url, { NO_COLOR: undefined });
    return run(process.execPath, [POD_BIN, ...args], { cwd: dir, env: e as NodeJS.ProcessEnv });
  }

  it("pretty status, history and sessions are for people", async () => {
    server = await startFakeServer({ turns });
    const dir = await makeProject(manifest(), { "a.txt": "hello\n" });
    const e = podEnv(server.url);
    await runPod(["run", "read a.txt"], { cwd: dir, env: e });
    const status = await run(process.execPath, [POD_BIN, "status", "--format", "pretty"], { cwd: dir, env: e as NodeJS.ProcessEnv });
    expect(status.stdout).toMatch(/status\s+idle/);
    const history = await run(process.execPath, [POD_BIN, "history", "--format", "pretty"], { cwd: dir, env: e as NodeJS.ProcessEnv });
    expect(history.stdout).toMatch(/⚙ Read/);
    const sessions = await run(process.execPath, [POD_BIN, "sessions", "--format", "pretty"], { cwd: dir, env: e as NodeJS.ProcessEnv });
    expect(sessions.stdout).toMatch(/^\s+SESSION\s+CREATED/);
    expect(sessions.stdout).toMatch(/^\* \d{8}T/m);
  });
});
