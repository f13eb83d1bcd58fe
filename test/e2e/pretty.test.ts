import { execFile } from "node:child_process";
import { promisify } from "node:util";
import { Chalk } from "chalk";
import { afterEach, describe, expect, it, vi } from "vitest";
import { colorsFor } from "../../src/events/colors.js";
import { prettyWriter, renderEvent } from "../../src/events/pretty.js";
import { Spinner } from "../../src/events/spinner.js";
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
    expect(renderEvent({ ...env, type: "tool_result", id: "t", name: "Bash", is_error: false, output: "a\nb\nc\n[exit code: 0]", truncated: false }, plain)).toBe("    ✓ exit 0, 3 lines of output\n");
    expect(renderEvent({ ...env, type: "tool_result", id: "t", name: "Edit", is_error: true, output: "old_string was not found", truncated: false }, plain)).toBe("    ✗ old_string was not found\n");
  });

  it("marks a failed command as failed: a non-zero exit, a signal, an error result — never a green ✓", () => {
    const result = (output: string, is_error = false) => renderEvent({ ...env, type: "tool_result", id: "t", name: "Bash", is_error, output, truncated: false }, plain);
    expect(result("FAIL test/a.test.ts\n1 failed\n[exit code: 1]")).toBe("    ✗ exit 1, 2 lines of output\n");
    expect(result("[exit code: signal SIGKILL]")).toBe("    ✗ exit signal SIGKILL\n");
    expect(result("ok\n[exit code: 0]")).toBe("    ✓ exit 0, 1 lines of output\n");
    expect(result("command not allowed", true)).toBe("    ✗ command not allowed\n");
    // In colour, the mark is red.
    const red = renderEvent({ ...env, type: "tool_result", id: "t", name: "Bash", is_error: false, output: "[exit code: 2]", truncated: false }, new Chalk({ level: 1 }));
    expect(red).toContain("\x1b[31m✗");
  });

  it("a pause says which call waits, shows its change, and gives the exact resume commands; denials are listed", () => {
    const end = {
      ...env,
      type: "run_end" as const,
      result: "paused" as const,
      turns: 1,
      usage: { input_tokens: 1, output_tokens: 1, cache_read_input_tokens: 0, cache_creation_input_tokens: 0 },
      duration_ms: 1000,
      pending: [
        { id: "toolu_1", name: "Edit", input: { path: "src/calc.js", old_string: "return a + b;", new_string: "return a - b;" } },
        { id: "toolu_2", name: "Bash", input: { command: "npm publish" } },
      ],
      denials: [{ id: "toolu_0", tool: "Bash", reason: "rm -rf / is not in [tools.bash] allow" }],
    };
    const text = renderEvent(end, plain, { resumeCommand: "pod -C services/api resume" });
    expect(text).toContain("■ paused");
    expect(text).toContain("waiting for approval (2 calls):");
    expect(text).toContain("⏸ Edit src/calc.js (toolu_1)");
    expect(text).toContain("      - return a + b;\n      + return a - b;");
    expect(text).toContain("⏸ Bash npm publish (toolu_2)");
    expect(text).toContain('approve: pod -C services/api resume --approve');
    expect(text).toContain('deny:    pod -C services/api resume --deny "why"');
    expect(text).toContain("denied (1):\n  ✗ Bash (toolu_0): rm -rf / is not in [tools.bash] allow");
    // A Write shows what it would write; the default command is plain `pod resume`.
    const write = renderEvent({ ...end, denials: [], pending: [{ id: "t", name: "Write", input: { path: "notes.md", content: "# Notes\nline 2" } }] }, plain);
    expect(write).toContain("⏸ Write notes.md (t)\n      + # Notes\n      + line 2");
    expect(write).toContain("approve: pod resume --approve");
    expect(write).not.toContain("denied");
  });

  it("a tool that runs over a second gets a spinner with its elapsed time (terminal only); a quick one none", () => {
    vi.useFakeTimers();
    try {
      let tty = "";
      const err = { isTTY: true, write: (s: string) => ((tty += s), true) } as unknown as NodeJS.WriteStream;
      let shown = "";
      const out = { isTTY: false, write: (s: string) => ((shown += s), true), on: () => out } as unknown as NodeJS.WriteStream;
      const w = prettyWriter(out, new Spinner(err, true));
      if (w.kind !== "events") throw new Error("pretty writes events");
      const usage = { input_tokens: 1, output_tokens: 1, cache_read_input_tokens: 0, cache_creation_input_tokens: 0 };
      w.event({ ...env, type: "tool_call_done", id: "a", name: "Bash", input: { command: "npm test" } });
      w.event({ ...env, type: "tool_call_done", id: "b", name: "Read", input: { path: "x" } });
      w.event({ ...env, type: "usage", ...usage });
      vi.advanceTimersByTime(900);
      expect(tty).toBe("");
      vi.advanceTimersByTime(1700);
      // The first call runs first; its timer counts from when the response was complete.
      expect(tty).toMatch(/Bash npm test 2\.[0-9]s/);
      w.event({ ...env, type: "tool_result", id: "a", name: "Bash", is_error: false, output: "[exit code: 0]", truncated: false });
      tty = "";
      vi.advanceTimersByTime(500);
      w.event({ ...env, type: "tool_result", id: "b", name: "Read", is_error: false, output: "1\tx", truncated: false });
      vi.advanceTimersByTime(3000);
      // The Read answered within the second: no spinner for it, only the line clear after the first.
      expect(tty).not.toContain("Read");
      expect(shown).toContain("⚙ Bash npm test");
    } finally {
      vi.useRealTimers();
    }
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

  it("a command that fails after a while: the spinner shows it running with its time, then a red ✗", async () => {
    server = await startFakeServer({
      turns: [
        { response: { content: [{ type: "tool_use", id: "t1", name: "Bash", input: { command: "sh fail.sh" } }], stop_reason: "tool_use" } },
        { response: { content: [{ type: "text", text: "The tests fail." }], stop_reason: "end_turn" } },
      ],
    });
    const dir = await makeProject(manifest({ extra: '\n[tools.bash]\nenabled = true\nallow = ["sh fail.sh"]\n' }), { "fail.sh": "sleep 1.6; echo 1 failed; exit 1\n" });
    const e = podEnv(server.url, { NO_COLOR: undefined, FORCE_COLOR: undefined, TERM: "xterm-256color" });
    const { stdout } = await run("script", ["-qec", `${process.execPath} ${POD_BIN} run "run the tests"`, "/dev/null"], { cwd: dir, env: e as NodeJS.ProcessEnv });
    const text = stdout.replace(/\x1b\[[0-9;]*[A-Za-z]/g, "");
    // The spinner appears once the tool has run 1 s, never before (a quick tool does not
    // flicker one). How far past 1 s its first frame lands is the machine's: on a loaded
    // CI runner pod's main thread was seen starting it at 3.3 s.
    const shown = [...text.matchAll(/Bash sh fail\.sh ([0-9]+\.[0-9])s/g)].map((m) => Number(m[1]));
    expect(shown.length).toBeGreaterThan(0);
    expect(Math.min(...shown)).toBeGreaterThanOrEqual(1);
    expect(text).toContain("✗ exit 1");
    expect(stdout).toMatch(/\x1b\[31m✗/);
    expect(text).not.toMatch(/✓ exit 1/);
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
