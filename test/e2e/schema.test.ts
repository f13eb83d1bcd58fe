import { describe, expect, it } from "vitest";
import { eventJsonSchema } from "../../src/events/json-schema.js";
import { schemaErrors } from "../helpers/event-schema.js";
import { execFile } from "node:child_process";
import { promisify } from "node:util";
import { makeProject, manifest, podEnv, POD_BIN } from "../helpers/pod-process.js";

const run = promisify(execFile);

describe("pod schema", () => {
  it("prints the draft 2020-12 JSON Schema generated from the zod event schemas", async () => {
    const dir = await makeProject(manifest({ scope: false }));
    const { stdout } = await run(process.execPath, [POD_BIN, "schema"], { cwd: dir, env: podEnv(undefined) as NodeJS.ProcessEnv });
    const printed = JSON.parse(stdout);
    expect(printed).toEqual(eventJsonSchema());
    expect(printed.$schema).toBe("https://json-schema.org/draft/2020-12/schema");
    const types = printed.oneOf.map((s: any) => s.properties.type.const);
    expect(types).toEqual(expect.arrayContaining(["run_start", "turn_start", "text_delta", "text_done", "thinking_delta", "tool_call_start", "tool_call_args_delta", "tool_call_done", "tool_result", "usage", "turn_end", "compaction", "error", "run_end"]));
  });

  it("the validator used on every e2e line rejects what the contract forbids", () => {
    const ok = { v: 1, seq: 0, ts: "2026-11-25T00:00:00.000Z", session_id: "s", type: "turn_start", turn: 1 };
    expect(schemaErrors(ok)).toBeUndefined();
    expect(schemaErrors({ ...ok, v: 2 })).toBeDefined();
    expect(schemaErrors({ ...ok, turn: "1" })).toBeDefined();
    expect(schemaErrors({ ...ok, type: "made_up" })).toBeDefined();
    expect(schemaErrors({ ...ok, ts: "yesterday" })).toBeDefined();
    const { seq: _seq, ...noSeq } = ok;
    expect(schemaErrors(noSeq)).toBeDefined();
    expect(schemaErrors({ ...ok, type: "error", code: "oops", message: "x" })).toBeDefined();
  });
});

describe("fast path for status and --version", () => {
  it("gives the same answers as commander's path", async () => {
    const { makeProject: mk, manifest: mf, podEnv: env, POD_BIN: bin } = await import("../helpers/pod-process.js");
    const dir = await mk(mf({ scope: false }));
    const opts = { cwd: dir, env: env(undefined) as NodeJS.ProcessEnv };
    const fast = await run(process.execPath, [bin, "status"], opts);
    // "--max-turns 1" is not on the fast path, so this goes through commander.
    const slow = await run(process.execPath, [bin, "status", "--max-turns", "1"], opts);
    const strip = (s: string) => JSON.stringify({ ...JSON.parse(s), updated_at: "" });
    expect(strip(fast.stdout)).toBe(strip(slow.stdout));
    expect((await run(process.execPath, [bin, "--version"], opts)).stdout).toMatch(/^\d+\.\d+\.\d+\n$/);
    await expect(run(process.execPath, [bin, "status", "--bogus"], opts)).rejects.toMatchObject({ code: 2 });
  });
});
