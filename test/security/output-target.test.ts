import { existsSync } from "node:fs";
import { mkdir, mkdtemp, readdir, readFile, symlink } from "node:fs/promises";
import { tmpdir } from "node:os";
import path from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import { startFakeServer, type FakeServer } from "../fake-server/server.js";
import { makeProject, ofType, podEnv, runPod } from "../helpers/pod-process.js";

/**
 * Operator output paths are resolved before the run (issue 22 item 5): `-o
 * reports/summary.md` after the model replaced `reports` with a link to another place
 * wrote outside the scope before this change. Now the directory is pinned at start (its
 * real path, dev/ino) and the file is written through that directory or not at all.
 */
const usage = { input_tokens: 10, output_tokens: 5, cache_read_input_tokens: 0, cache_creation_input_tokens: 0 };

let server: FakeServer | undefined;
afterEach(async () => {
  await server?.close();
  server = undefined;
});

const bashPod = (allow: string) =>
  ['[pod]', 'name = "tester"', 'system_prompt = "x"', "", "[scope]", 'root = "."', "", "[tools.bash]", "enabled = true", `allow = [${JSON.stringify(allow)}]`, ""].join("\n");

describe("-o FILE is written where the operator pointed, or not at all", () => {
  it("a directory the model replaced with a symlink during the run is not followed", async () => {
    const elsewhere = await mkdtemp(path.join(tmpdir(), "pod-elsewhere-"));
    server = await startFakeServer({
      turns: [
        { response: { content: [{ type: "tool_use", id: "b1", name: "Bash", input: { command: "sh attack.sh" } }], stop_reason: "tool_use", usage } },
        { response: { content: [{ type: "text", text: "the summary" }], stop_reason: "end_turn", usage } },
      ],
    });
    const dir = await makeProject(bashPod("sh attack.sh"), { "reports/.keep": "", "attack.sh": `rm -rf reports && ln -s ${elsewhere} reports\n` });
    const r = await runPod(["run", "-o", "reports/summary.md", "summarise"], { cwd: dir, env: podEnv(server.url) });
    // The attack itself ran (the scope is writable): the link is there.
    expect(existsSync(path.join(dir, "reports/.keep"))).toBe(false);
    expect(await readdir(elsewhere)).toEqual([]);
    expect(r.code, r.stderr).toBe(1);
    const err = ofType(r.events, "error").at(-1);
    expect(err.message).toMatch(/reports\/summary\.md/);
    expect(err.message).toMatch(/replaced|changed/);
    expect(r.events.at(-1)).toMatchObject({ type: "run_end", result: "error" });
  });

  it("a target that is a symlink at start is refused before the run (exit 2)", async () => {
    const elsewhere = await mkdtemp(path.join(tmpdir(), "pod-elsewhere-"));
    const dir = await makeProject(bashPod("true"));
    await symlink(path.join(elsewhere, "out.md"), path.join(dir, "out.md"));
    const r = await runPod(["run", "-o", "out.md", "go"], { cwd: dir, env: podEnv(undefined) });
    expect(r.code).toBe(2);
    expect(r.events).toHaveLength(1);
    expect(r.events[0]).toMatchObject({ type: "error", code: "invalid_input" });
    expect(r.events[0].message).toMatch(/out\.md.*symlink/);
    expect(existsSync(path.join(elsewhere, "out.md"))).toBe(false);
  });

  it("an ordinary -o still works, through a directory symlink the operator made before the run", async () => {
    server = await startFakeServer({ turns: [{ response: { content: [{ type: "text", text: "the summary" }], stop_reason: "end_turn", usage } }] });
    const real = await mkdtemp(path.join(tmpdir(), "pod-real-"));
    const dir = await makeProject(bashPod("true"));
    await mkdir(path.join(dir, "out"));
    await symlink(real, path.join(dir, "out/linked"));
    const r = await runPod(["run", "-o", "out/linked/summary.md", "go"], { cwd: dir, env: podEnv(server.url) });
    expect(r.code, r.stderr).toBe(0);
    expect(await readFile(path.join(real, "summary.md"), "utf8")).toBe("the summary");
    // No temp file left behind.
    expect(await readdir(real)).toEqual(["summary.md"]);
  });
});
