import { existsSync, lstatSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, realpathSync, symlinkSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import { startFakeServer, type FakeServer } from "../fake-server/server.js";
import { makeProject, manifest, ofType, podEnv, runPod } from "../helpers/pod-process.js";

/**
 * --diff FILE (and --sarif FILE) are the operator's files, resolved when the run
 * begins; the model must not be able to redirect pod's write to them. Attacks through
 * sandboxed Bash (rm, ln): the target's directory swapped for a symlink to a
 * directory outside the scope, or the target itself made a symlink to a file outside.
 * Each must leave everything outside the scope untouched.
 */
const usage = { input_tokens: 100, output_tokens: 20, cache_read_input_tokens: 0, cache_creation_input_tokens: 0 };
const bash = (id: string, command: string, after?: string) => ({
  ...(after ? { expect: { tool_result_for: after } } : {}),
  response: { content: [{ type: "tool_use", id, name: "Bash", input: { command } }], stop_reason: "tool_use", usage },
});
const done = (after: string) => ({ expect: { tool_result_for: after }, response: { content: [{ type: "text", text: "Done." }], stop_reason: "end_turn", usage } });

let server: FakeServer | undefined;
afterEach(async () => {
  await server?.close();
  server = undefined;
});

const attackManifest = manifest({ extra: '\n[tools.bash]\nenabled = true\nallow = ["rm *", "ln *", "cp *"]\n' });

describe("--diff FILE cannot be redirected by the model", () => {
  it("the target's directory swapped for a symlink to a directory outside the scope: nothing is written outside", async () => {
    const outside = realpathSync(mkdtempSync(path.join(tmpdir(), "pod-outside-")));
    const dir = await makeProject(attackManifest, { "out/.keep": "", "a.txt": "a\n" });
    server = await startFakeServer({ turns: [bash("b1", "rm -r out"), bash("b2", `ln -s ${outside} out`, "b1"), bash("b3", "cp a.txt b.txt", "b2"), done("b3")] });
    const r = await runPod(["run", "tidy", "--diff", "out/changes.diff"], { cwd: dir, env: podEnv(server.url) });
    // The attack itself ran (sandboxed Bash is there): otherwise this test would prove nothing.
    expect(ofType(r.events, "tool_result").map((e) => e.is_error)).toEqual([false, false, false]);
    expect(lstatSync(path.join(dir, "out")).isSymbolicLink()).toBe(true);
    expect(readdirSync(outside)).toEqual([]);
    // The write was refused, and said so: CI must not take a missing patch for an empty one.
    expect(r.code).toBe(1);
    expect(ofType(r.events, "error").map((e) => e.message).join("\n")).toMatch(/--diff out\/changes\.diff: .*(moved|replaced)/);
    // The same code as -o's (one writer for the operator's files): a trusted target changed under the run.
    expect(ofType(r.events, "error").map((e) => e.code)).toContain("contract_changed");
    expect(r.events.at(-1)).toMatchObject({ type: "run_end", result: "error" });
  });

  it("the target made a symlink to a file outside the scope: that file is not touched", async () => {
    const outside = realpathSync(mkdtempSync(path.join(tmpdir(), "pod-outside-")));
    const victim = path.join(outside, "victim.txt");
    writeFileSync(victim, "precious\n");
    const dir = await makeProject(attackManifest, { "out/.keep": "", "a.txt": "a\n" });
    server = await startFakeServer({ turns: [bash("b1", `ln -s ${victim} out/changes.diff`), bash("b2", "cp a.txt b.txt", "b1"), done("b2")] });
    const r = await runPod(["run", "tidy", "--diff", "out/changes.diff"], { cwd: dir, env: podEnv(server.url) });
    expect(ofType(r.events, "tool_result").map((e) => e.is_error)).toEqual([false, false]);
    expect(readFileSync(victim, "utf8")).toBe("precious\n");
    // The link is replaced by the patch itself (a rename does not follow it).
    expect(r.code, r.stderr).toBe(0);
    expect(lstatSync(path.join(dir, "out/changes.diff")).isFile()).toBe(true);
    expect(readFileSync(path.join(dir, "out/changes.diff"), "utf8")).toContain("diff --git a/b.txt b/b.txt\nnew file mode 100644\n");
  });

  it("a target that is already a symlink, or whose directory is missing, is a usage error before the run (exit 2)", async () => {
    const outside = realpathSync(mkdtempSync(path.join(tmpdir(), "pod-outside-")));
    const dir = await makeProject(attackManifest, { "a.txt": "a\n" });
    mkdirSync(path.join(dir, "out"));
    symlinkSync(path.join(outside, "x.diff"), path.join(dir, "out/link.diff"));
    server = await startFakeServer({ turns: [] });
    const linked = await runPod(["run", "tidy", "--diff", "out/link.diff"], { cwd: dir, env: podEnv(server.url) });
    expect(linked.code).toBe(2);
    expect(linked.events).toEqual([expect.objectContaining({ type: "error", code: "invalid_input", message: expect.stringContaining("is a symlink") })]);
    const missing = await runPod(["run", "tidy", "--diff", "nowhere/x.diff"], { cwd: dir, env: podEnv(server.url) });
    expect(missing.code).toBe(2);
    expect(server.requests).toHaveLength(0);
    expect(existsSync(path.join(outside, "x.diff"))).toBe(false);
  });
});
