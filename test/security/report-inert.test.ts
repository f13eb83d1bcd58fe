import { spawn } from "node:child_process";
import { mkdir, writeFile } from "node:fs/promises";
import path from "node:path";
import { micromark } from "micromark";
import { gfm, gfmHtml } from "micromark-extension-gfm";
import { describe, expect, it } from "vitest";
import { inertText } from "../../src/events/inert.js";
import { reportMarkdown } from "../../src/report/markdown.js";
import { Report, type Report as ReportT } from "../../src/report/model.js";
import { CommandProcessor } from "../e2e/action-harness.js";
import { startFakeServer } from "../fake-server/server.js";
import { makeProject, manifest, POD_BIN, podEnv, runPod } from "../helpers/pod-process.js";

/**
 * SPEC Containment, "People's output is inert", for `pod report` (issue 25 item 4): the
 * report puts model text (the prompt, the answer, tool inputs, paths, error messages) into
 * markdown read in `$GITHUB_STEP_SUMMARY` (rendered), a CI log (where `::cmd::` runs) and a
 * terminal. Checked three ways, each against what really reads it:
 * - rendered by a CommonMark + GFM renderer (micromark, the GFM tables/autolinks of GitHub)
 *   with raw HTML *allowed*, so nothing is left to a sanitiser: the only elements are the
 *   report's own, every table row has its table's cells, each text comes out whole in its
 *   own code element;
 * - every line fed to the runner's workflow-command parser (action-harness's CommandProcessor);
 * - no terminal control byte anywhere.
 */

/** Model text that tries every way out of markdown and into the runner and the terminal. */
const EVIL = [
  "<script>alert(1)</script>",
  "<img src=x onerror=alert(1)>",
  "<details open><summary>Approved ✅</summary>",
  "</td></tr></table><h1>injected</h1>",
  "<!-- hide the rest",
  "````",
  "```",
  "~~~",
  "`` ` ``",
  "# Approved by the security team",
  "[click](https://evil.example/login) ![p](https://evil.example/p.png)",
  "| a | b | c |",
  "&lt;script&gt; &amp;",
  "::error file=a.ts,line=1::fake error",
  "  ::add-mask::hunter2",
  "\u00a0::set-output name=result::hacked",
  "##[error]legacy",
  "\x1b[2J\x1b]0;title\x07\x1b]52;c;Y2xpcA==\x07\r::warning::after CR",
  "\x9b31m c1 \x07 bell",
].join("\n");

const ALLOWED_TAGS = new Set(["h3", "h4", "p", "table", "thead", "tbody", "tr", "th", "td", "pre", "code", "ul", "li", "sub", "blockquote"]);

function render(md: string): string {
  return micromark(md, { allowDangerousHtml: true, extensions: [gfm()], htmlExtensions: [gfmHtml()] });
}

const decode = (html: string) => html.replace(/&lt;/g, "<").replace(/&gt;/g, ">").replace(/&quot;/g, '"').replace(/&amp;/g, "&");

/** Everything the report's markdown must hold to be inert, checked on one report. */
function expectInert(md: string, opts: { wholeTexts?: string[] } = {}) {
  // The terminal: no control byte but newline (and no CR: a line cannot overwrite another).
  expect(md).not.toMatch(/[\x00-\x09\x0b-\x1f\x7f-\x9f]/);
  // The runner: no line runs a command.
  const runner = new CommandProcessor();
  for (const line of md.split("\n")) runner.line(line);
  expect(runner.processed.map((p) => p.line)).toEqual([]);
  // The summary, rendered with raw HTML allowed: only the report's own elements...
  const html = render(md);
  const tags = new Set([...html.matchAll(/<\/?([a-zA-Z][\w-]*)/g)].map((m) => m[1]!.toLowerCase()));
  expect([...tags].filter((t) => !ALLOWED_TAGS.has(t))).toEqual([]);
  expect(html).not.toMatch(/<(a|img|script|h1|details|iframe)[\s>]/i);
  // ...every row with its table's cells (a `|` in model text split none)...
  for (const table of html.split("<table>").slice(1)) {
    const head = (table.split("</thead>")[0]!.match(/<th[\s>]/g) ?? []).length;
    const rows = table.split("</table>")[0]!.split("<tbody>")[1]?.split("</tr>").filter((r) => r.includes("<td")) ?? [];
    for (const r of rows) expect((r.match(/<td[\s>]/g) ?? []).length, r).toBe(head);
  }
  // ...and each multi-line text whole inside one code block (no fence closed early).
  const blocks = [...html.matchAll(/<pre><code[^>]*>([\s\S]*?)<\/code><\/pre>/g)].map((m) => decode(m[1]!));
  for (const t of opts.wholeTexts ?? []) expect(blocks.some((b) => b === inertText(t) + "\n" || b.startsWith(inertText(t))), `a code block holding ${JSON.stringify(t.slice(0, 40))}`).toBe(true);
  return html;
}

function hostileReport(): ReportT {
  const call = (turn: number, tool: string, summary: string, outcome: ReportT["tool_calls"][number]["outcome"], detail?: string) => ({ turn, id: `toolu_${turn}${EVIL.slice(0, 30)}`, tool, summary, outcome, ...(detail ? { detail } : {}), duration_ms: 12 });
  const r: ReportT = {
    v: 1,
    run_id: "20260101T000000Z-a1b2c3",
    pod: "fixer|`x`<b>",
    session_id: "20260101T000000Z-d4e5f6",
    mode: "run",
    model: "claude-sonnet-4-5 | <i>x</i>",
    pod_version: "0.1.0",
    started_at: "2026-01-01T00:00:00.000Z",
    ended_at: "2026-01-01T00:00:10.000Z",
    prompt: EVIL,
    resume: null,
    result: "finished",
    limit: null,
    error: null,
    answer: { text: `Done.\n${EVIL}` },
    no_answer: null,
    pending: [],
    files_changed: {
      files: [
        { path: "src/<img src=x onerror=alert(1)>.ts", change: "modified", added: 3, removed: 1, binary: false },
        { path: "a|b`c``d\n::error::x.ts", change: "added", added: 10, removed: 0, binary: false },
        { path: "logo.png", change: "added", added: null, removed: null, binary: true },
        { path: "[x](https://evil.example).md", change: "deleted", added: null, removed: null, binary: false, not_counted: "</td><script>x</script>" },
      ],
      added: 13,
      removed: 1,
      truncated: false,
      not_counted: null,
    },
    tool_calls: [
      call(1, "Bash", "echo '| a | b |' && printf '::error::x' ```", "error", "exit 1"),
      call(1, "Read", "<script>alert(1)</script>", "ok"),
      call(2, "Write<img src=x>", "`` `a|b` ``", "denied", "::add-mask::secret | <b>"),
      call(2, "Grep", "\x1b]52;c;Y2xpcA==\x07 in ::notice::x", "not_run"),
    ],
    denials: [{ id: "toolu_2", tool: "Write<img src=x>", reason: "path | outside <scope>\n::error::x", turn: 2 }],
    turns: 3,
    usage: { input_tokens: 1200, output_tokens: 300, cache_read_input_tokens: 800, cache_creation_input_tokens: 100 },
    cost_usd: 0.0123,
    duration_ms: 10_000,
    torn: false,
  };
  return Report.parse(r);
}

describe("pod report's markdown is inert (the renderer)", () => {
  it("model text in every field renders as text: no element of its own, no cell split, no fence closed, no command, no control", () => {
    const md = reportMarkdown(hostileReport());
    const html = expectInert(md, { wholeTexts: [EVIL, `Done.\n${EVIL}`] });
    // The texts are shown (neutralised, not dropped).
    expect(decode(html)).toContain("<script>alert(1)</script>");
    expect(decode(html)).toContain("hunter2");
  });

  it("an error message and a paused run's pending call stay inert too", () => {
    const r = hostileReport();
    const paused: ReportT = { ...r, result: "paused", answer: null, no_answer: "x", pending: [{ id: "toolu_9", name: "Bash<script>", summary: EVIL }] };
    expectInert(reportMarkdown(paused));
    const failed: ReportT = { ...r, result: "error", answer: null, no_answer: "x", error: { code: "tool_error", message: EVIL } };
    expectInert(reportMarkdown(failed), { wholeTexts: [EVIL] });
    const resumed: ReportT = { ...r, mode: "resume", prompt: null, resume: { call: { id: EVIL.slice(0, 20), name: "Bash", summary: EVIL }, decision: "deny", reason: EVIL } };
    expectInert(reportMarkdown(resumed));
  });
});

/** `pod report` as a person or a step runs it: its stdout is markdown, not events. */
function podReport(args: string[], cwd: string): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [POD_BIN, "report", ...args], { cwd, env: podEnv(undefined) as NodeJS.ProcessEnv, stdio: ["ignore", "pipe", "pipe"] });
    let stdout = "";
    let stderr = "";
    child.stdout.setEncoding("utf8").on("data", (d: string) => (stdout += d));
    child.stderr.setEncoding("utf8").on("data", (d: string) => (stderr += d));
    child.on("error", reject);
    child.on("close", (code) => resolve({ code, stdout, stderr }));
  });
}

describe("pod report's markdown is inert (the real binary, a hostile run)", () => {
  it("a run whose prompt, answer, tool inputs, file names and denials are hostile reports them as text", async () => {
    const evilName = "x`|<img src=x onerror=alert(1)>.md";
    const server = await startFakeServer({
      turns: [
        {
          response: {
            content: [
              { type: "text", text: EVIL },
              { type: "tool_use", id: "toolu_w", name: "Write", input: { path: evilName, content: `${EVIL}\n` } },
              { type: "tool_use", id: "toolu_d", name: "Read", input: { path: "secret/<script>alert(1)</script>|x.txt" } },
              { type: "tool_use", id: "toolu_g", name: "Glob", input: { pattern: "\n::add-mask::from-a-pattern ```" } },
            ],
            stop_reason: "tool_use",
          },
        },
        { response: { content: [{ type: "text", text: `Done.\n${EVIL}` }] } },
      ],
    });
    const dir = await makeProject(manifest({ extra: "" }).replace('deny = [".pod/**"]', 'deny = [".pod/**", "secret/**"]'));
    await mkdir(path.join(dir, "secret"), { recursive: true });
    await writeFile(path.join(dir, "secret/a.txt"), "s\n");
    const run = await runPod(["run", EVIL], { cwd: dir, env: podEnv(server.url) });
    await server.close();
    expect(run.code, run.stderr).toBe(0);
    const end = run.events.at(-1);
    expect(end.denials.map((d: any) => d.id)).toEqual(["toolu_d"]);
    expect(end.files_changed).toEqual([{ path: evilName, change: "added" }]);

    const rep = await podReport([], dir);
    expect(rep.code, rep.stderr).toBe(0);
    const html = expectInert(rep.stdout);
    // The hostile texts are there, as text: the prompt and the answer (each in a code block), the file, the call, the denial.
    const text = decode(html);
    expect(text).toContain("<script>alert(1)</script>");
    const blocks = [...html.matchAll(/<pre><code[^>]*>([\s\S]*?)<\/code><\/pre>/g)].map((m) => decode(m[1]!));
    expect(blocks).toContain(inertText(EVIL) + "\n");
    expect(blocks).toContain(inertText(`Done.\n${EVIL}`) + "\n");
    expect(text).toContain(inertText(evilName).replace(/\s+/g, " "));
  });
});
