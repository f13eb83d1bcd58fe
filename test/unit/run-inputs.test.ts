import { mkdir, mkdtemp, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import path from "node:path";
import { describe, expect, it } from "vitest";
import { INSTRUCTION_FILE_CAP_BYTES, instructionDirs, loadInstructions } from "../../src/prompt/instructions.js";
import { costUsd, priceFor } from "../../src/conversation/pricing.js";
import { limitBeforeRequest, parseDuration, requestLimits } from "../../src/runtime/limits.js";
import { FINAL_ANSWER_TOOL, OutputGate, loadOutputSchema } from "../../src/runtime/structured-output.js";
import { ZERO_USAGE } from "../../src/events/schema.js";

const tmp = () => mkdtemp(path.join(tmpdir(), "pod-steer-"));

describe("instruction files", () => {
  it("walks from the git root down to the manifest's directory; without git from the scope root", async () => {
    const root = await tmp();
    await mkdir(path.join(root, ".git"));
    await mkdir(path.join(root, "a/b"), { recursive: true });
    expect(instructionDirs(path.join(root, "a/b"), undefined)).toEqual([root, path.join(root, "a"), path.join(root, "a/b")]);
    const plain = await tmp();
    await mkdir(path.join(plain, "x"));
    expect(instructionDirs(path.join(plain, "x"), plain)).toEqual([plain, path.join(plain, "x")]);
    // A manifest outside the scope: only its own directory.
    expect(instructionDirs(plain, path.join(plain, "x"))).toEqual([plain]);
  });

  it("caps a large file with a visible marker and skips a directory named like one", async () => {
    const dir = await tmp();
    await writeFile(path.join(dir, "AGENTS.md"), "é".repeat(INSTRUCTION_FILE_CAP_BYTES));
    await mkdir(path.join(dir, "CLAUDE.md"));
    const [file, ...rest] = await loadInstructions(["AGENTS.md", "CLAUDE.md"], [dir]);
    expect(rest).toEqual([]);
    expect(file!.truncated).toBe(true);
    expect(file!.text).toContain(`[pod: AGENTS.md is ${INSTRUCTION_FILE_CAP_BYTES * 2} bytes; only the first ${INSTRUCTION_FILE_CAP_BYTES} are included]`);
    expect(file!.text).not.toContain("\uFFFD");
  });
});

describe("pricing overrides and limits", () => {
  const u = { ...ZERO_USAGE, input_tokens: 1_000_000, cache_read_input_tokens: 1_000_000 };
  it("[pricing] prices an unknown model and overrides a known one, cache prices included", () => {
    expect(priceFor("mine", { mine: { input: 1, output: 2 } })).toEqual({ input: 1, output: 2 });
    expect(costUsd("mine", u, { mine: { input: 1, output: 2 } })).toBe(1.1);
    expect(costUsd("claude-haiku-4-5", u, { "claude-haiku-4-5": { input: 2, output: 2, cache_read: 0 } })).toBe(2);
    expect(costUsd("claude-haiku-4-5", u)).toBe(1.1);
  });

  it("checks turns, then budget; a budget without a price is a usage error", () => {
    const limits = requestLimits({ model: "claude-haiku-4-5", maxTurns: 5, maxCostUsd: 1, pricing: {} });
    expect(limitBeforeRequest({ turns: 0, usage: ZERO_USAGE }, limits)).toBeUndefined();
    expect(limitBeforeRequest({ turns: 1, usage: u }, limits)).toBe("budget");
    expect(limitBeforeRequest({ turns: 5, usage: ZERO_USAGE }, limits)).toBe("turns");
    expect(() => requestLimits({ model: "mystery", maxTurns: 5, maxCostUsd: 1, pricing: {} })).toThrow(/no price/);
    expect(requestLimits({ model: "mystery", maxTurns: 5, maxCostUsd: undefined, pricing: {} }).maxTurns).toBe(5);
  });

  it("parses durations", () => {
    expect([parseDuration("90s"), parseDuration("10m"), parseDuration("1.5h"), parseDuration("250ms"), parseDuration("30")]).toEqual([90_000, 600_000, 5_400_000, 250, 30_000]);
    for (const bad of ["", "10 minutes", "-1s", "0s", "1d"]) expect(() => parseDuration(bad)).toThrow(/not a duration/);
  });
});

describe("structured output gate", () => {
  it("wraps a non-object schema as {value} for the tool and accepts a JSON text answer", async () => {
    const dir = await tmp();
    await writeFile(path.join(dir, "s.json"), JSON.stringify({ type: "array", items: { type: "integer" } }));
    const schema = await loadOutputSchema(path.join(dir, "s.json"));
    const gate = new OutputGate(schema);
    expect(gate.tool.input_schema).toMatchObject({ type: "object", required: ["value"] });
    const call = (input: unknown) => ({ type: "tool_use" as const, id: "t", name: FINAL_ANSWER_TOOL, input });
    expect(gate.answer(call({ value: ["x"] })).isError).toBe(true);
    const text = { role: "assistant" as const, content: [{ type: "text" as const, text: "Here:\n```json\n[1, 2]\n```" }] };
    expect(gate.afterTurn(text, false)).toEqual({ kind: "accepted", value: [1, 2] });
  });

  it("refuses schema files that are not JSON Schema as usage errors", async () => {
    const dir = await tmp();
    await writeFile(path.join(dir, "bad.json"), "{ nope");
    await writeFile(path.join(dir, "odd.json"), JSON.stringify({ $schema: "http://json-schema.org/draft-04/schema#" }));
    await writeFile(path.join(dir, "broken.json"), JSON.stringify({ type: "nonsense" }));
    for (const f of ["bad.json", "odd.json", "broken.json", "missing.json"]) {
      await expect(loadOutputSchema(path.join(dir, f))).rejects.toMatchObject({ code: "invalid_input" });
    }
  });
});
