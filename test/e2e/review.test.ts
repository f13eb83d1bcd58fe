import { execFileSync } from "node:child_process";
import { existsSync, mkdtempSync, readFileSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import { startFakeServer, type FakeServer } from "../fake-server/server.js";
import { makeProject, manifest, ofType, podEnv, POD_BIN, runPod } from "../helpers/pod-process.js";
import { sarifSchemaErrors } from "../helpers/sarif.js";

/**
 * --review and --sarif (issue 25), end to end against the fake Messages API: the
 * findings schema as the final_answer tool, findings checked against the scope (file
 * and lines exist) and sent back like any invalid answer, run_end.output, and the SARIF
 * file validated against the official OASIS schema.
 */
const usage = { input_tokens: 100, output_tokens: 20, cache_read_input_tokens: 0, cache_creation_input_tokens: 0 };
const answer = (id: string, input: object, after?: string) => ({
  ...(after ? { expect: { tool_result_for: after } } : {}),
  response: { content: [{ type: "tool_use", id, name: "final_answer", input }], stop_reason: "tool_use", usage },
});

let server: FakeServer | undefined;
afterEach(async () => {
  await server?.close();
  server = undefined;
});

const DB = Array.from({ length: 10 }, (_, i) => (i === 2 ? 'db.query("SELECT * FROM users WHERE id = " + id);' : `// line ${i + 1}`)).join("\n") + "\n";
const FILES = { "src/db.js": DB, "src/my util.js": "one\ntwo", ".env": "TOKEN=x\n" };
/** The built-in system prompt (the test manifest's own replaces it), a denied .env. */
const reviewManifest = manifest({ extra: "" }).replace('system_prompt = "You fix code."\n', "").replace('deny = [".pod/**"]', 'deny = [".pod/**", ".env*"]');

const GOOD = {
  summary: "One injection; the rest reads fine.",
  findings: [
    { path: "src/db.js", line: 3, severity: "error", rule: "sql-injection", message: "The id is concatenated into SQL: use a parameter." },
    { path: "src/db.js", line: 5, end_line: 7, severity: "note", message: "These comments say nothing." },
    { path: "src/my util.js", line: 2, severity: "warning", rule: "no-newline", message: "No newline at the end of the file." },
  ],
};

describe("--review", () => {
  it("gives the model the findings schema, returns the accepted findings as run_end.output, and writes SARIF that the official schema accepts", async () => {
    server = await startFakeServer({ turns: [answer("f1", GOOD)] });
    const dir = await makeProject(reviewManifest, FILES);
    const out = mkdtempSync(path.join(tmpdir(), "pod-sarif-"));
    const r = await runPod(["run", "review src/", "--review", "--sarif", path.join(out, "review.sarif"), "-o", "findings.json"], { cwd: dir, env: podEnv(server.url) });
    expect(r.code, r.stderr).toBe(0);
    expect(r.events.at(-1)).toMatchObject({ type: "run_end", result: "finished", output: GOOD, files_changed: [] });
    expect(JSON.parse(readFileSync(path.join(dir, "findings.json"), "utf8"))).toEqual(GOOD);

    const body = server.requests[0]!.body;
    const tool = body.tools.find((t: any) => t.name === "final_answer");
    expect(tool.input_schema).toMatchObject({ type: "object", required: ["summary", "findings"] });
    expect(tool.input_schema.properties.findings.items.properties.severity).toMatchObject({ enum: ["error", "warning", "note"] });
    expect(tool.description).toContain("review");
    const system = body.system.map((b: any) => b.text).join("");
    expect(system).toContain("# Review\nThis run is a review");
    // `pod run --review --print-system-prompt` prints exactly what a review run sends.
    const printed = execFileSync(process.execPath, [POD_BIN, "run", "--review", "--print-system-prompt"], { cwd: dir, env: podEnv(undefined) as NodeJS.ProcessEnv, encoding: "utf8" });
    expect(printed).toBe(system + "\n");

    const sarif = JSON.parse(readFileSync(path.join(out, "review.sarif"), "utf8"));
    expect(sarifSchemaErrors(sarif)).toEqual([]);
    const run = sarif.runs[0];
    expect(run.tool.driver).toMatchObject({ name: "pod", version: expect.stringMatching(/^\d+\.\d+\.\d+/) });
    expect(run.tool.driver.informationUri).toBeUndefined();
    expect(run.tool.driver.rules.map((x: any) => x.id)).toEqual(["sql-injection", "pod-review", "no-newline"]);
    expect(run.originalUriBaseIds.SCOPEROOT.uri).toMatch(/^file:\/\/\/.*\/$/);
    expect(run.results.map((x: any) => [x.ruleId, x.ruleIndex, x.level, x.locations[0].physicalLocation.artifactLocation, x.locations[0].physicalLocation.region])).toEqual([
      ["sql-injection", 0, "error", { uri: "src/db.js", uriBaseId: "SCOPEROOT" }, { startLine: 3 }],
      ["pod-review", 1, "note", { uri: "src/db.js", uriBaseId: "SCOPEROOT" }, { startLine: 5, endLine: 7 }],
      ["no-newline", 2, "warning", { uri: "src/my%20util.js", uriBaseId: "SCOPEROOT" }, { startLine: 2 }],
    ]);
  });

  it("sends findings outside the scope, in denied or missing files, or past the end of a file back to the model, with the reasons", async () => {
    const bad = {
      summary: "s",
      findings: [
        { path: "../outside.js", line: 1, severity: "error", message: "m" },
        { path: ".env", line: 1, severity: "error", message: "m" },
        { path: "src/nope.js", line: 1, severity: "error", message: "m" },
        { path: "src/db.js", line: 11, severity: "warning", message: "m" },
        { path: "src/db.js", line: 4, end_line: 2, severity: "note", message: "m" },
        { path: "./src/db.js", line: 1, severity: "note", message: "m" },
      ],
    };
    server = await startFakeServer({ turns: [answer("f1", bad), answer("f2", GOOD, "f1")] });
    const dir = await makeProject(reviewManifest, FILES);
    const r = await runPod(["run", "review", "--review"], { cwd: dir, env: podEnv(server.url) });
    expect(r.code, r.stderr).toBe(0);
    expect(server.mismatches).toEqual([]);
    const rejection = ofType(r.events, "tool_result")[0];
    expect(rejection).toMatchObject({ name: "final_answer", is_error: true });
    const why = rejection.output as string;
    expect(why).toContain('findings[0]: path "../outside.js" must be relative to the workspace root');
    // A denied file is answered like a missing one: the model learns nothing about it.
    expect(why).toContain('findings[1]: path ".env" is not a file in the workspace');
    expect(why).toContain('findings[2]: path "src/nope.js" is not a file in the workspace');
    expect(why).toContain("findings[3]: line 11 is past the end of src/db.js (10 lines)");
    expect(why).toContain("findings[4]: end_line 2 is before line 4");
    expect(why).toContain('findings[5]: path "./src/db.js" must be relative');
    expect(why).toContain("2 attempts left");
    expect(r.events.at(-1)).toMatchObject({ result: "finished", output: GOOD });
    // The review section is part of a prompt that stays byte-stable across turns (prompt caching).
    expect(server.requests[1]!.body.system).toEqual(server.requests[0]!.body.system);
  });

  it("after three invalid answers: output_invalid, exit 1, and no SARIF file", async () => {
    const bad = { summary: "s", findings: [{ path: "src/db.js", line: 99, severity: "error", message: "m" }] };
    server = await startFakeServer({ turns: [answer("f1", bad), answer("f2", bad, "f1"), answer("f3", bad, "f2")] });
    const dir = await makeProject(reviewManifest, FILES);
    const out = mkdtempSync(path.join(tmpdir(), "pod-sarif-"));
    const r = await runPod(["run", "review", "--review", "--sarif", path.join(out, "r.sarif")], { cwd: dir, env: podEnv(server.url) });
    expect(r.code).toBe(1);
    expect(ofType(r.events, "error")).toMatchObject([{ code: "output_invalid", message: expect.stringContaining("pod's review findings schema") }]);
    expect(existsSync(path.join(out, "r.sarif"))).toBe(false);
  });

  it("--sarif without --review, --review with --output-schema, --review without [scope]: usage errors (exit 2) before any request", async () => {
    server = await startFakeServer({ turns: [] });
    const dir = await makeProject(reviewManifest, { ...FILES, "s.json": JSON.stringify({ type: "object" }) });
    const cases: Array<[string[], string]> = [
      [["--sarif", "r.sarif"], "--sarif was given without --review"],
      [["--review", "--output-schema", "s.json"], "--review and --output-schema were both given"],
    ];
    for (const [flags, message] of cases) {
      const r = await runPod(["run", "review", ...flags], { cwd: dir, env: podEnv(server.url) });
      expect(r.code).toBe(2);
      expect(r.events).toEqual([expect.objectContaining({ type: "error", code: "invalid_input", message: expect.stringContaining(message) })]);
    }
    const noScope = await makeProject(manifest({ scope: false }));
    const r = await runPod(["run", "review", "--review"], { cwd: noScope, env: podEnv(server.url) });
    expect(r.code).toBe(2);
    expect(r.events[0].message).toContain("--review needs a [scope]");
    expect(server.requests).toHaveLength(0);
  });
});
