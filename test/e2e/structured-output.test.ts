import { readFile } from "node:fs/promises";
import path from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import { startFakeServer, type FakeServer } from "../fake-server/server.js";
import { apiHistoryProblems } from "../helpers/api-history.js";
import { makeProject, manifest, ofType, podEnv, runPod } from "../helpers/pod-process.js";
import { after, textTurn, toolTurn } from "../helpers/turns.js";

/** --output-schema (the final_answer tool, validated answers) and -o, through the built binary. */

let server: FakeServer | undefined;
afterEach(async () => {
  await server?.close();
  server = undefined;
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
        toolTurn("toolu_2", "final_answer", { verdict: "fail", reasons: ["flaky"] }, after("toolu_1")),
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
        textTurn("I think it passes.", after("toolu_1")),
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
