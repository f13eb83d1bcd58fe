import { cp, mkdtemp, readFile } from "node:fs/promises";
import { execFileSync } from "node:child_process";
import { tmpdir } from "node:os";
import path from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import { loadFixture, startFakeServer, type FakeServer } from "../fake-server/server.js";
import { ofType, podEnv, REPO_ROOT, runPod } from "../helpers/pod-process.js";

let server: FakeServer | undefined;
afterEach(async () => {
  await server?.close();
  server = undefined;
});

function testsPass(dir: string): boolean {
  try {
    execFileSync(process.execPath, ["--test", "test/"], { cwd: dir, stdio: "pipe" });
    return true;
  } catch {
    return false;
  }
}

describe("pod fixes a failing test with real tools", () => {
  it("reads the source, edits it, runs the tests with Bash and finishes", async () => {
    const dir = await mkdtemp(path.join(tmpdir(), "pod-calc-"));
    // The example project as shipped, with its own pod.toml (the demo runs the same).
    await cp(path.join(REPO_ROOT, "examples/calc"), dir, { recursive: true });
    expect(testsPass(dir)).toBe(false);

    server = await startFakeServer(loadFixture("fix-calc"));
    const r = await runPod(["run", "fix the failing test"], { cwd: dir, env: podEnv(server.url) });
    expect(server.mismatches).toEqual([]);
    expect(r.code).toBe(0);

    const results = ofType(r.events, "tool_result");
    expect(results.map((e) => [e.name, e.is_error])).toEqual([
      ["Bash", false],
      ["Read", false],
      ["Edit", false],
      ["Bash", false],
    ]);
    expect(results[0].output).toMatch(/# fail 1/);
    expect(results[0].output).toMatch(/\[exit code: 1\]/);
    expect(results[3].output).toMatch(/# pass 2/);
    expect(results[3].output).toMatch(/\[exit code: 0\]/);
    expect(await readFile(path.join(dir, "src/calc.js"), "utf8")).toContain("return a - b;");
    expect(testsPass(dir)).toBe(true);
    expect(r.events.at(-1)).toMatchObject({ type: "run_end", result: "finished", turns: 5 });

    // The model saw the failing output before it read the source.
    const second = server.requests[1]!.body.messages.at(-1).content[0];
    expect(second).toMatchObject({ type: "tool_result", tool_use_id: "toolu_01_test" });
    expect(second.content).toMatch(/subtract/);
  });
});
