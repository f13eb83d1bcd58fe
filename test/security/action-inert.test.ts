import { readFileSync } from "node:fs";
import { createRequire } from "node:module";
import path from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import { startFakeServer, type FakeServer } from "../fake-server/server.js";
import { makeProject, manifest, REPO_ROOT } from "../helpers/pod-process.js";
import { actionRunner, CommandProcessor, importAction, parseFileCommands } from "../e2e/action-harness.js";

/**
 * SPEC Containment, "People's output is inert" (issue 22 item 6, for the Action): model text
 * reaches the job log (pod's pretty output), the step summary and the step outputs, and none
 * of it may run a workflow command, break out of its markdown, or end its output early.
 * The log is checked with the runner's own parsing rules (actions/runner ActionCommand.cs,
 * as the harness implements them): `::cmd::` after any leading Unicode white space, and the
 * legacy `##[cmd]` anywhere in a line.
 */
let server: FakeServer | undefined;
/** The Action's checkout and install cache, made once for this file (action-harness.ts). */
const runner = actionRunner(() => server!.url);

afterEach(async () => {
  await server?.close();
  server = undefined;
});

/** Every way a line can carry a workflow command past a naive filter. */
const HOSTILE = [
  "::add-mask::hunter2",
  "::set-output name=result::hacked",
  "::stop-commands::model-token",
  "::endgroup::",
  "::group::fake group",
  "::error file=x,line=1::fake error",
  "  ::warning::indented",
  "\u00a0::notice::after a no-break space",
  "\u2003::add-mask::after an em space",
  "\u3000::debug::after an ideographic space",
  "\u2028::error::after a line separator",
  "text then ##[set-output name=result;]hacked-v1",
  "##[add-mask]v1-mask",
  "%0A::error::escaped newline",
  "\r::error::after a carriage return",
  "\x1b[2K\r::error::after an erase-line",
  "::model-token::",
];

const job = (workspace: string, inputs: Record<string, string>) => runner.job({ workspace, inputs });

describe("model text in the Action's log, outputs and summary", () => {
  it("runs no workflow command, with or without the stop-commands guard, and leaves every output as pod wrote it", async () => {
    const answer = ["Here is what I found:", ...HOSTILE, "done"].join("\n");
    server = await startFakeServer({
      turns: [
        {
          response: {
            content: [
              { type: "text", text: HOSTILE.join("\n") },
              { type: "tool_use", id: "toolu_p", name: "Bash", input: { command: `printf '%s\\n' ${HOSTILE.slice(0, 4).map((h) => `'${h}'`).join(" ")}` } },
            ],
            stop_reason: "tool_use",
          },
          delivery: { text_split: 3 },
        },
        { response: { content: [{ type: "tool_use", id: "toolu_g", name: "Glob", input: { pattern: "\n::add-mask::from-a-pattern" } }], stop_reason: "tool_use" } },
        { response: { content: [{ type: "text", text: answer }] }, delivery: { text_split: 5 } },
      ],
    });
    const dir = await makeProject(manifest({ extra: '\n[tools.bash]\nenabled = true\nallow = ["printf *"]\n' }));
    const r = await job(dir, { prompt: "::add-mask::even the prompt\n::set-output name=x::y" });
    expect(r.outputs.result).toBe("finished");
    // The model's text did reach the log (neutralised, not dropped)...
    expect(r.log.join("\n")).toContain("hunter2");
    expect(r.log.join("\n")).toContain("hacked-v1");
    // ...and ran nothing: the only commands are the Action's own.
    expect(r.processed.map((p) => p.command)).toEqual(["group", "stop-commands", "(resume-commands)", "endgroup"]);
    // Belt and braces: without the stop-commands guard, the inert text alone runs nothing either.
    const unguarded = new CommandProcessor();
    for (const line of r.log.filter((l) => !l.startsWith("::stop-commands::"))) unguarded.line(line);
    expect(unguarded.processed.map((p) => p.command)).toEqual(["group", "endgroup"]);
    // The outputs are pod's: the answer exactly, nothing injected.
    expect(r.outputs.output).toBe(answer);
    expect(Object.keys(r.steps.find((s) => s.id === "pod")!.outputs).sort()).toEqual([...(await importAction("run.mjs")).OUTPUTS].sort());
  });

  it("a final answer holding delimiters and output lines cannot end its block or add an output", async () => {
    const answer = ["before", "POD_EOF", "output<<EOF", "result=hacked", "EOF", `pod_${"0".repeat(24)}`, "ghadelimiter_00000000-0000-0000-0000-000000000000", "exit-code<<X", "0", "X", "after"].join("\n");
    server = await startFakeServer({ turns: [{ response: { content: [{ type: "text", text: answer }] } }] });
    const r = await job(await makeProject(manifest()), { prompt: "answer" });
    const written = r.steps.find((s) => s.id === "pod")!.outputs;
    expect(written.output).toBe(answer);
    expect(written.result).toBe("finished");
    expect(written["exit-code"]).toBe("0");
    expect(Object.keys(written)).not.toContain("EOF");
  });

  it("the step summary shows model text only inside code it cannot close", async () => {
    const evil = ["````", "```", "# Approved by the security team ✅", "<img src=https://evil.example/p.png>", "[click here](https://evil.example/login)", "<details open><summary>x</summary>", "`` ` ``", "| a | b |", "@octocat"].join("\n");
    server = await startFakeServer({
      turns: [
        { response: { content: [{ type: "tool_use", id: "toolu_w", name: "Write", input: { path: "`x`](https://evil.example).md", content: evil } }], stop_reason: "tool_use" } },
        { response: { content: [{ type: "text", text: evil }] } },
      ],
    });
    const dir = await makeProject(manifest({ extra: '\n[tools]\nask = ["Write"]\n' }));
    const paused = await job(dir, { prompt: "x" });
    expect(paused.outputs.result).toBe("paused");
    const finished = await job(dir, { deny: "no" });
    expect(finished.outputs.result).toBe("finished");
    for (const summary of [paused.summary, finished.summary]) {
      expect(summary).toContain("evil.example");
      const prose = outsideCode(summary);
      expect(prose).not.toContain("evil.example");
      expect(prose).not.toContain("<img");
      expect(prose).not.toContain("Approved by");
      expect(prose).not.toContain("@octocat");
      expect(prose).not.toMatch(/<details open>/);
    }
  });
});

describe("the lib's inert line layer", () => {
  it("neutralises what the runner accepts beyond inertText: any leading Unicode white space, ##[ anywhere", () => {
    const lib = createRequire(import.meta.url)(path.join(REPO_ROOT, "action/dist/lib.cjs"));
    for (const h of HOSTILE) {
      const p = new CommandProcessor();
      for (const line of lib.inertLogText(h).split("\n")) p.line(line);
      expect(p.processed, JSON.stringify(h)).toEqual([]);
    }
    expect(readFileSync(path.join(REPO_ROOT, "action/lib.ts"), "utf8")).toContain("inertText");
  });
});

/**
 * The summary with fenced blocks and code spans removed, as CommonMark reads them: a fence
 * of N backticks closes only at a line of at least N backticks; a code span of N backticks
 * closes at the next run of exactly N.
 */
function outsideCode(md: string): string {
  const out: string[] = [];
  let fence = 0;
  for (const line of md.split("\n")) {
    // Indented fences too: the summary indents them inside list items.
    const m = /^\s*(`{3,})/.exec(line);
    if (fence) {
      if (m && m[1]!.length >= fence && line.trim() === m[1]) fence = 0;
      continue;
    }
    if (m) {
      fence = m[1]!.length;
      continue;
    }
    let rest = "";
    for (let i = 0; i < line.length; ) {
      const run = /^`+/.exec(line.slice(i));
      if (!run) {
        rest += line[i++];
        continue;
      }
      const n = run[0].length;
      let j = i + n;
      let closed = -1;
      while (j < line.length) {
        const r2 = /^`+/.exec(line.slice(j));
        if (r2) {
          if (r2[0].length === n) {
            closed = j;
            break;
          }
          j += r2[0].length;
        } else j++;
      }
      if (closed < 0) {
        rest += run[0];
        i += n;
      } else i = closed + n;
    }
    out.push(rest);
  }
  return out.join("\n");
}
