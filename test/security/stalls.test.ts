import { execFileSync } from "node:child_process";
import { writeFile } from "node:fs/promises";
import path from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import { startFakeServer, type FakeServer } from "../fake-server/server.js";
import { makeProject, ofType, podEnv } from "../helpers/pod-process.js";
import { runGuarded } from "./guarded.js";

/**
 * Nothing stalls pod — files and regexes (SPEC "Containment", issue 21 item 4): a FIFO
 * where pod reads a file for itself, or a backtracking `pattern` in the output schema
 * checked against a crafted answer, must end within --timeout. Before: the FIFO
 * .gitignore hung the run past --timeout (and pod cancel) until killed, and the schema
 * pattern blocked the main thread, so not even the time limit could fire.
 */
const usage = { input_tokens: 10, output_tokens: 5, cache_read_input_tokens: 0, cache_creation_input_tokens: 0 };
const MANIFEST = ['[pod]', 'name = "tester"', 'model = "claude-sonnet-5-5"', 'system_prompt = "x"', "", "[scope]", 'root = "."', ""].join("\n");

let server: FakeServer | undefined;
afterEach(async () => {
  await server?.close();
  server = undefined;
});

describe("a FIFO where pod reads a file for itself", () => {
  it("a FIFO .gitignore above a Glob path is skipped at once; the Glob answers", async () => {
    server = await startFakeServer({
      turns: [
        { response: { content: [{ type: "tool_use", id: "g1", name: "Glob", input: { pattern: "*", path: "sub/deeper" } }], stop_reason: "tool_use", usage } },
        { expect: { tool_result_for: "g1" }, response: { content: [{ type: "text", text: "done" }], stop_reason: "end_turn", usage } },
      ],
    });
    const dir = await makeProject(MANIFEST, { "sub/deeper/a.txt": "a\n" });
    execFileSync("mkfifo", [path.join(dir, "sub/.gitignore")]);
    const r = await runGuarded(["run", "--timeout", "5s", "list"], { cwd: dir, env: podEnv(server.url) }, 30_000);
    expect(r.killed, "pod hung past --timeout on the FIFO").toBe(false);
    // Exit 0, not 11 (limit time): the Glob answered before the 5 s --timeout.
    expect(r.code, r.stderr).toBe(0);
    expect(ofType(r.events, "tool_result")[0].output).toContain("sub/deeper/a.txt");
  });
});

describe("a FIFO in place of the manifest, system_prompt_file or the output schema", () => {
  for (const [what, setup, args] of [
    ["pod.toml", async (dir: string) => execFileSync("mkfifo", [path.join(dir, "ci.toml")]), ["--manifest", "ci.toml"]],
    ["system_prompt_file", async (dir: string) => {
      await writeFile(path.join(dir, "sp.toml"), '[pod]\nname = "tester"\nsystem_prompt_file = "prompt.md"\n');
      execFileSync("mkfifo", [path.join(dir, "prompt.md")]);
    }, ["--manifest", "sp.toml"]],
    ["--output-schema", async (dir: string) => execFileSync("mkfifo", [path.join(dir, "schema.json")]), ["--output-schema", "schema.json"]],
  ] as const) {
    it(`${what}: refused at once (exit 2), naming the FIFO`, async () => {
      const dir = await makeProject(MANIFEST);
      await setup(dir);
      const r = await runGuarded(["run", ...args, "go"], { cwd: dir, env: podEnv(undefined) }, 30_000);
      expect(r.killed, `pod hung on the FIFO ${what}`).toBe(false);
      expect(r.code, r.stderr).toBe(2);
      expect(r.events).toHaveLength(1);
      expect(r.events[0].message).toMatch(/named pipe \(FIFO\)/);
    });
  }
});

describe("the output schema's patterns cannot block the main thread", () => {
  it("(a+)+$ against a crafted final_answer ends at once with output_invalid, well within --timeout", async () => {
    const crafted = "a".repeat(48) + "!";
    const answer = (id: string) => ({ response: { content: [{ type: "tool_use", id, name: "final_answer", input: { v: crafted } }], stop_reason: "tool_use", usage } });
    server = await startFakeServer({ turns: [answer("f1"), answer("f2"), answer("f3")] });
    const dir = await makeProject(MANIFEST);
    await writeFile(path.join(dir, "schema.json"), JSON.stringify({ type: "object", properties: { v: { type: "string", pattern: "^(a+)+$" } }, required: ["v"] }));
    const r = await runGuarded(["run", "--timeout", "10s", "--output-schema", "schema.json", "answer"], { cwd: dir, env: podEnv(server.url) }, 40_000);
    expect(r.killed, "the pattern blocked pod past --timeout").toBe(false);
    // Exit 1 output_invalid, not 11 (limit time): the three answers were judged within the 10 s --timeout.
    expect(r.code, r.stderr).toBe(1);
    expect(ofType(r.events, "error").map((e) => e.code)).toEqual(["output_invalid"]);
    expect(ofType(r.events, "tool_result")[0].output).toMatch(/\/v must match pattern/);
  });

  it("patternProperties use the same linear-time engine", async () => {
    const crafted = "b".repeat(48) + "!";
    const answer = (id: string) => ({ response: { content: [{ type: "tool_use", id, name: "final_answer", input: { [crafted]: 1 } }], stop_reason: "tool_use", usage } });
    server = await startFakeServer({ turns: [answer("f1"), answer("f2"), answer("f3")] });
    const dir = await makeProject(MANIFEST);
    await writeFile(path.join(dir, "schema.json"), JSON.stringify({ type: "object", patternProperties: { "^(b+)+$": { type: "string" } } }));
    const r = await runGuarded(["run", "--timeout", "10s", "--output-schema", "schema.json", "answer"], { cwd: dir, env: podEnv(server.url) }, 40_000);
    expect(r.killed, "patternProperties blocked pod past --timeout").toBe(false);
    // The key does not match the pattern, so the property is unconstrained: the answer is accepted.
    expect(r.code, r.stderr).toBe(0);
  });
});
