import { execFile } from "node:child_process";
import { existsSync } from "node:fs";
import { promisify } from "node:util";
import { describe, expect, it } from "vitest";
import { REPO_ROOT } from "../helpers/pod-process.js";

const run = promisify(execFile);

describe("npm run demo", () => {
  it("fixes the sample project's failing test with the real binary and tools, no API key needed", async () => {
    const env = { ...process.env, ANTHROPIC_API_KEY: undefined, NO_COLOR: "1" } as NodeJS.ProcessEnv;
    delete env.ANTHROPIC_API_KEY;
    const { stdout, stderr } = await run(process.execPath, ["scripts/demo.mjs"], { cwd: REPO_ROOT, env });
    expect(stderr).toMatch(/its tests: FAIL/);
    expect(stdout).toContain("⚙ Bash node --test test/");
    expect(stdout).toContain("⚙ Edit src/calc.js");
    expect(stdout).toMatch(/■ finished · 5 turns/);
    expect(stderr).toMatch(/pod exited 0; the tests now: pass/);
    expect(stdout + stderr).not.toMatch(/\x1b/);
    // Each run used to leave its copy of examples/calc behind in the temp dir.
    const copy = /a copy of examples\/calc in (\S+);/.exec(stderr)![1]!;
    expect(existsSync(copy)).toBe(false);
  });
});
