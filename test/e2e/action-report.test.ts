import { existsSync, readFileSync } from "node:fs";
import { mkdtemp, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import path from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import { startFakeServer, type FakeServer } from "../fake-server/server.js";
import { makeProject, manifest } from "../helpers/pod-process.js";
import { sarifSchemaErrors } from "../helpers/sarif.js";
import { actionRunner, CommandProcessor, importAction, testRunId } from "./action-harness.js";

/**
 * The Action and issue 25 (items 3 and 4) in the simulated runner (action-harness.ts), from
 * a copy of the tree: the step summary is `pod report --format markdown` of the step's run;
 * review: true gives the SARIF for upload-sarif (sarif-file) and one annotation per finding,
 * escaped so that no path or message adds a command or a property; export-file / import-file
 * carry a paused pod to another workflow run, where no cache of the first one is restored.
 */
let server: FakeServer | undefined;
/** The Action's checkout and install cache, made once for this file (action-harness.ts). */
const runner = actionRunner(() => server!.url);

afterEach(async () => {
  await server?.close();
  server = undefined;
});

const job = runner.job;

const usage = { input_tokens: 100, output_tokens: 20, cache_read_input_tokens: 0, cache_creation_input_tokens: 0 };

describe("the step summary is pod report's", () => {
  it("holds the run's report — prompt, answer, files changed with counts, tool calls, denials, numbers — then the step's own part", async () => {
    server = await startFakeServer({
      turns: [
        { response: { content: [{ type: "tool_use", id: "toolu_w", name: "Write", input: { path: "notes.md", content: "a\nb\n" } }], stop_reason: "tool_use", usage } },
        { expect: { tool_result_for: "toolu_w" }, response: { content: [{ type: "tool_use", id: "toolu_r", name: "Read", input: { path: "secret.txt" } }], stop_reason: "tool_use", usage } },
        { expect: { tool_result_for: "toolu_r" }, response: { content: [{ type: "text", text: "Wrote notes.md." }], stop_reason: "end_turn", usage } },
      ],
    });
    const dir = await makeProject(manifest().replace('deny = [".pod/**"]', 'deny = [".pod/**", "secret.txt"]'), { "secret.txt": "s\n" });
    const r = await job({ workspace: dir, inputs: { prompt: "write notes" } });
    expect(r.outputs.result).toBe("finished");
    const s = r.summary;
    expect(s).toMatch(/^### ✅ pod `tester`: finished\n/);
    expect(s).toContain("#### Prompt\n\n```text\nwrite notes\n```");
    expect(s).toContain("#### Answer\n\n```text\nWrote notes.md.\n```");
    expect(s).toContain("#### Files changed (1: +2 −0)");
    expect(s).toContain("| `notes.md` | added | 2 | 0 |");
    expect(s).toMatch(/\| 1 \| `Write` \| `notes\.md` \| ok \| \d+ ms \|/);
    expect(s).toMatch(/\| 2 \| `Read` \| `secret\.txt` \| denied: /);
    expect(s).toContain("#### Denials (1)");
    expect(s).toContain("| turns | 3 |");
    expect(s).toContain("| tokens | 300 in · 60 out · 0 cache read · 0 cache write |");
    // Then what only the step knows.
    expect(s).toContain("#### This step");
    expect(s).toContain("| exit code | 0 |");
    expect(s).toContain(r.outputs["events-file"]!);
    // The log did not say the report failed.
    expect(r.log.join("\n")).not.toContain("`pod report` failed");
  });

  it("falls back to the Action's own summary when pod report fails, and says so in the log", async () => {
    server = await startFakeServer({ turns: [{ response: { content: [{ type: "text", text: "Hello." }], stop_reason: "end_turn", usage } }] });
    // keep_runs = 0: the run has an id but no recording, so `pod report <run_id>` fails (not_found).
    const dir = await makeProject(manifest().replace("max_turns = 10", "max_turns = 10\nkeep_runs = 0"));
    const r = await job({ workspace: dir, inputs: { prompt: "hi" } });
    expect(r.outputs.result).toBe("finished");
    expect(r.log.join("\n")).toMatch(/`pod report` failed \(exit 2: .*no recorded run/);
    expect(r.summary).toMatch(/^### ✅ pod `tester`: finished/);
    expect(r.summary).toContain("| exit code | 0 |");
    expect(r.summary).toContain("#### Answer\n\n```text\nHello.\n```");
    expect(r.summary).not.toContain("#### Tool calls");
  });
});

describe("review: true", () => {
  it("writes the SARIF for upload-sarif and annotates each finding, escaped so that none adds a command or a property", async () => {
    // File names and messages that try to end the command early or add properties.
    const files = { "src/a,line=99,title=x:y.js": "one\ntwo\nthree\n", "src/ok.js": "1\n2\n3\n4\n5\n", "src/new\n::error::line.js": "x\n" };
    const findings = [
      { path: "src/a,line=99,title=x:y.js", line: 2, severity: "error", rule: "no-commas", message: "100% wrong\r\n::add-mask::hunter2\n::error file=evil.js,line=1::injected" },
      { path: "src/ok.js", line: 2, end_line: 4, severity: "warning", message: "%0A::warning::encoded,and:colons" },
      { path: "src/new\n::error::line.js", line: 1, severity: "note", rule: "names", message: "::endgroup::" },
    ];
    server = await startFakeServer({ turns: [{ response: { content: [{ type: "tool_use", id: "f1", name: "final_answer", input: { summary: "Three.", findings } }], stop_reason: "tool_use", usage } }] });
    const dir = await makeProject(manifest().replace('system_prompt = "You fix code."\n', ""), files);
    const r = await job({ workspace: dir, inputs: { prompt: "review src/", review: "true", "sarif-file": "out/review.sarif" } });
    expect(r.outputs.result, r.log.join("\n")).toBe("finished");
    // The SARIF: where the output says, a fresh copy at sarif-file, valid against the official schema.
    expect(r.outputs["sarif-file"]).toBe(path.join(dir, "out/review.sarif"));
    const sarif = JSON.parse(readFileSync(r.outputs["sarif-file"]!, "utf8"));
    expect(sarifSchemaErrors(sarif)).toEqual([]);
    expect(sarif.runs[0].results).toHaveLength(3);
    // The annotations: exactly one command per finding, each with exactly its own properties and message.
    const annotations = r.processed.filter((p) => ["error", "warning", "notice"].includes(p.command));
    expect(annotations.map((a) => [a.command, a.properties])).toEqual([
      ["error", { file: "src/a,line=99,title=x:y.js", line: "2", title: "pod review: no-commas" }],
      ["warning", { file: "src/ok.js", line: "2", endLine: "4", title: "pod review" }],
      ["notice", { file: "src/new\n::error::line.js", line: "1", title: "pod review: names" }],
    ]);
    // The message reaches the annotation whole (made inert: the runner shows it, runs none of it).
    expect(annotations[0]!.data).toContain("100% wrong");
    expect(annotations[0]!.data).toContain("hunter2");
    expect(annotations[1]!.data).toBe("%0A::warning::encoded,and:colons");
    // No other command came from the findings: only the Action's own.
    expect(r.processed.map((p) => p.command)).toEqual(["group", "stop-commands", "(resume-commands)", "endgroup", "error", "warning", "notice"]);
    // And without the step's guard: the annotation lines alone still run one command each.
    const bare = new CommandProcessor();
    for (const l of r.log.filter((x) => /^::(error|warning|notice) /.test(x))) bare.line(l);
    expect(bare.processed).toHaveLength(3);
    // The summary has the findings as the answer.
    expect(r.summary).toContain("#### Answer\n\n```json\n");
  });

  it("refuses sarif-file without review", async () => {
    server = await startFakeServer({ turns: [] });
    const r = await job({ workspace: await makeProject(manifest()), inputs: { prompt: "x", "sarif-file": "a.sarif" } });
    expect(r.outputs.result).toBe("error");
    expect(r.outputs["error-message"]).toContain("sarif-file needs review: true");
  });
});

describe("the command line for review, sarif-file, import-file (buildArgs)", () => {
  it("review passes --review and --sarif into the step's directory; an imported pod's session continues", async () => {
    const run = await importAction("run.mjs");
    const inputs = (over: Record<string, string>) => run.readInputs(Object.fromEntries(Object.entries(over).map(([k, v]) => [`INPUT_${k.toUpperCase().replaceAll("-", "_")}`, v])));
    expect(run.buildArgs(inputs({ prompt: "review", review: "true" }), { sarifFile: "/t/step/findings.sarif" }).args).toEqual(["run", "review", "--new", "--review", "--sarif", "/t/step/findings.sarif", "--format", "jsonl"]);
    expect(run.buildArgs(inputs({ prompt: "x", "sarif-file": "a.sarif" })).error).toContain("sarif-file needs review: true");
    // import-file: as if restored, so no --new (main passes restoredKey "import-file").
    expect(run.buildArgs(inputs({ prompt: "go on", "import-file": "b.tgz" }), { restoredKey: "import-file" }).args).toEqual(["run", "go on", "--format", "jsonl"]);
  });
});

describe("export-file and import-file", () => {
  it("carry a paused pod to another workflow run, which approves it", async () => {
    server = await startFakeServer({
      turns: [
        { response: { content: [{ type: "tool_use", id: "toolu_w", name: "Write", input: { path: "out.txt", content: "done\n" } }], stop_reason: "tool_use", usage } },
        { expect: { tool_result_for: "toolu_w" }, response: { content: [{ type: "text", text: "Wrote out.txt." }], stop_reason: "end_turn", usage } },
      ],
    });
    const dir = await makeProject(manifest({ extra: '\n[tools]\nask = ["Write"]\n' }));
    const bundleDir = await mkdtemp(path.join(tmpdir(), "pod-bundle-"));
    const first = await job({ workspace: dir, inputs: { prompt: "write out.txt", "export-file": path.join(bundleDir, "pod-state.tar.gz") }, runId: `${testRunId()}1` });
    expect(first.outputs.result).toBe("paused");
    expect(first.outputs["export-file"]).toBe(path.join(bundleDir, "pod-state.tar.gz"));
    expect(existsSync(first.outputs["export-file"]!)).toBe(true);
    // Another workflow run: its own run id, so no cache of the first is restored; only the bundle carries the pod.
    const second = await job({ workspace: dir, inputs: { approve: "true", "import-file": first.outputs["export-file"]! }, runId: `${testRunId()}2` });
    expect(second.steps.find((s) => s.id === "runtime-cache")!.outputs["cache-matched-key"] ?? "").toBe("");
    expect(second.log.join("\n")).toMatch(/pod: imported .*pod-state\.tar\.gz: pod tester, 1 session\(s\), 1 recorded run\(s\), status paused/);
    expect(second.outputs).toMatchObject({ result: "finished", "session-id": first.outputs["session-id"], output: "Wrote out.txt." });
    expect(readFileSync(path.join(dir, "out.txt"), "utf8")).toBe("done\n");
  });
});
