import { createHash } from "node:crypto";
import { existsSync } from "node:fs";
import { readFile, rm, utimes, writeFile } from "node:fs/promises";
import path from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import { startFakeServer, type FakeServer } from "../fake-server/server.js";
import { apiHistoryProblems } from "../helpers/api-history.js";
import { makeProject, manifest, ofType, podEnv, runPod } from "../helpers/pod-process.js";
import { call, textTurn, toolsTurn, usage } from "../helpers/turns.js";

/**
 * Issue 23, item 0: approved work happens. The Read happened in the process that paused;
 * `pod resume --approve` is a new process with a fresh tracker. The pending call carries
 * the read proof (identity and content hash), so the approved Edit/Write applies when the
 * file is unchanged since that Read, and is refused, with the reason, when a person or
 * another job changed it while the pod was paused.
 */
let server: FakeServer | undefined;
afterEach(async () => {
  await server?.close();
  server = undefined;
});

// The shared turn builders (test/helpers/turns.ts), with the usage every turn here reports.
const calls = (...blocks: object[]) => toolsTurn(blocks, { usage: usage() });
const use = call;
const text = (t: string, expect?: Record<string, unknown>) => textTurn(t, { usage: usage(), ...(expect ? { expect } : {}) });
const sha256 = (s: string) => createHash("sha256").update(s).digest("hex");
const status = async (dir: string) => JSON.parse(await readFile(path.join(dir, ".pod/tester/status.json"), "utf8"));
const ask = (tools: string[]) => manifest({ extra: `\n[tools]\nask = ${JSON.stringify(tools)}\n` });

const EDIT = use("toolu_edit", "Edit", { path: "a.txt", old_string: "hello", new_string: "goodbye" });

async function pausedOnEdit(turnsAfter: object[]) {
  server = await startFakeServer({ turns: [calls(use("toolu_read", "Read", { path: "a.txt" })), calls(EDIT), ...turnsAfter] });
  const dir = await makeProject(ask(["Edit"]), { "a.txt": "hello\nworld\n" });
  const env = podEnv(server.url);
  const r = await runPod(["run", "change hello to goodbye"], { cwd: dir, env });
  expect(r.code).toBe(10);
  return { dir, env, paused: r };
}

describe("an approved Edit across processes", () => {
  it("applies in the resuming process when the file is unchanged since the model read it", async () => {
    const { dir, env, paused } = await pausedOnEdit([text("Changed it.", { tool_result_for: "toolu_edit" })]);
    // run_end of the pause names the call awaiting a decision, exactly {id, name, input}.
    const end = paused.events.at(-1);
    expect(end).toMatchObject({ type: "run_end", result: "paused", denials: [] });
    expect(end.pending).toEqual([{ id: "toolu_edit", name: "Edit", input: EDIT.input }]);
    // status.json keeps its pending shape, plus the proof of the Read.
    const s = await status(dir);
    expect(s.pending).toMatchObject({ id: "toolu_edit", name: "Edit", input: EDIT.input });
    expect(s.pending.reads).toEqual([{ path: "a.txt", dev: expect.any(Number), ino: expect.any(Number), size: 12, mtime_ms: expect.any(Number), sha256: sha256("hello\nworld\n") }]);

    const approved = await runPod(["resume", "--approve"], { cwd: dir, env });
    expect(approved.code).toBe(0);
    expect(ofType(approved.events, "tool_result")).toEqual([expect.objectContaining({ id: "toolu_edit", is_error: false, output: "Edited a.txt: replaced 1 occurrence." })]);
    expect(await readFile(path.join(dir, "a.txt"), "utf8")).toBe("goodbye\nworld\n");
    expect(approved.events.at(-1)).toMatchObject({ result: "finished", denials: [] });
    expect(approved.events.at(-1).pending).toBeUndefined();
    expect(await status(dir)).toMatchObject({ status: "idle", pending: null });
    expect(server!.mismatches).toEqual([]);
  });

  it("is refused, with the reason, when a person changed the file while the pod was paused; the model is asked to read again", async () => {
    const { dir, env } = await pausedOnEdit([text("I will read it again.", { tool_result_for: "toolu_edit" })]);
    await writeFile(path.join(dir, "a.txt"), "hello\nworld\nand a line a person added\n");
    const approved = await runPod(["resume", "--approve"], { cwd: dir, env });
    expect(approved.code).toBe(0);
    const result = ofType(approved.events, "tool_result")[0];
    expect(result).toMatchObject({ id: "toolu_edit", is_error: true });
    expect(result.output).toBe(
      "a.txt was changed while the pod was paused for approval (by a person or another job): its content is no longer what you read, so this change was not applied. Read a.txt again, then make the change again if it is still needed.",
    );
    // The person's change stands.
    expect(await readFile(path.join(dir, "a.txt"), "utf8")).toBe("hello\nworld\nand a line a person added\n");
    // Not a denial: the approval was given; the file moved on.
    expect(approved.events.at(-1).denials).toEqual([]);
    const sent = server!.requests.at(-1)!.body.messages.at(-1).content[0];
    expect(sent).toMatchObject({ type: "tool_result", tool_use_id: "toolu_edit", is_error: true });
  });

  it("applies when only the file's times changed (touch): what the model saw is still true", async () => {
    const { dir, env } = await pausedOnEdit([text("Changed it.")]);
    const later = new Date(Date.now() + 60_000);
    await utimes(path.join(dir, "a.txt"), later, later);
    const approved = await runPod(["resume", "--approve"], { cwd: dir, env });
    expect(ofType(approved.events, "tool_result")[0]).toMatchObject({ is_error: false });
    expect(await readFile(path.join(dir, "a.txt"), "utf8")).toBe("goodbye\nworld\n");
  });

  it("--deny still adopts nothing it should not: the denial is listed, the file untouched", async () => {
    const { dir, env } = await pausedOnEdit([text("Understood.")]);
    const denied = await runPod(["resume", "--deny", "not this file"], { cwd: dir, env });
    expect(denied.code).toBe(0);
    expect(denied.events.at(-1).denials).toEqual([{ id: "toolu_edit", tool: "Edit", reason: "A person denied this Edit call: not this file" }]);
    expect(await readFile(path.join(dir, "a.txt"), "utf8")).toBe("hello\nworld\n");
  });
});

describe("approved Writes, several gated calls, and what stays fresh per process", () => {
  it("a Write over an existing file, read before the pause, is applied on approval", async () => {
    server = await startFakeServer({
      turns: [calls(use("toolu_r", "Read", { path: "notes.md" })), calls(use("toolu_w", "Write", { path: "notes.md", content: "# rewritten\n" })), text("Rewrote it.")],
    });
    const dir = await makeProject(ask(["Write"]), { "notes.md": "# old notes\n" });
    const env = podEnv(server.url);
    expect((await runPod(["run", "rewrite notes.md"], { cwd: dir, env })).code).toBe(10);
    const approved = await runPod(["resume", "--approve"], { cwd: dir, env });
    expect(ofType(approved.events, "tool_result")[0]).toMatchObject({ id: "toolu_w", is_error: false, output: expect.stringMatching(/^Replaced notes\.md/) });
    expect(await readFile(path.join(dir, "notes.md"), "utf8")).toBe("# rewritten\n");
  });

  it("a Write whose file was deleted while paused is refused, not resurrected", async () => {
    server = await startFakeServer({
      turns: [calls(use("toolu_r", "Read", { path: "notes.md" })), calls(use("toolu_w", "Write", { path: "notes.md", content: "# rewritten\n" })), text("OK.")],
    });
    const dir = await makeProject(ask(["Write"]), { "notes.md": "# old notes\n" });
    const env = podEnv(server.url);
    expect((await runPod(["run", "rewrite notes.md"], { cwd: dir, env })).code).toBe(10);
    await rm(path.join(dir, "notes.md"));
    const approved = await runPod(["resume", "--approve"], { cwd: dir, env });
    expect(ofType(approved.events, "tool_result")[0]).toMatchObject({ is_error: true, output: expect.stringContaining("notes.md was changed while the pod was paused for approval") });
    expect(existsSync(path.join(dir, "notes.md"))).toBe(false);
  });

  it("two gated Edits in one response: each approval in its own process applies its Edit", async () => {
    server = await startFakeServer({
      turns: [
        calls(use("toolu_ra", "Read", { path: "a.txt" }), use("toolu_rb", "Read", { path: "b.txt" })),
        calls(use("toolu_ea", "Edit", { path: "a.txt", old_string: "one", new_string: "ONE" }), use("toolu_eb", "Edit", { path: "b.txt", old_string: "two", new_string: "TWO" })),
        text("Both changed.", { tool_result_for: "toolu_eb" }),
      ],
    });
    const dir = await makeProject(ask(["Edit"]), { "a.txt": "one\n", "b.txt": "two\n" });
    const env = podEnv(server.url);
    expect((await runPod(["run", "capitalise"], { cwd: dir, env })).code).toBe(10);
    const first = await runPod(["resume", "--approve"], { cwd: dir, env });
    expect(first.code).toBe(10);
    expect(first.events.at(-1).pending).toEqual([{ id: "toolu_eb", name: "Edit", input: { path: "b.txt", old_string: "two", new_string: "TWO" } }]);
    const second = await runPod(["resume", "--approve"], { cwd: dir, env });
    expect(second.code).toBe(0);
    expect(await readFile(path.join(dir, "a.txt"), "utf8")).toBe("ONE\n");
    expect(await readFile(path.join(dir, "b.txt"), "utf8")).toBe("TWO\n");
    expect(apiHistoryProblems(server!.requests.at(-1)!.body.messages)).toEqual([]);
    expect(server!.mismatches).toEqual([]);
  });

  it("the tracker stays fresh per process for everything else: a Read in an earlier run does not let a later run's Edit through", async () => {
    server = await startFakeServer({
      turns: [calls(use("toolu_r", "Read", { path: "a.txt" })), text("Read it."), calls(use("toolu_e", "Edit", { path: "a.txt", old_string: "hello", new_string: "bye" })), text("Could not.")],
    });
    const dir = await makeProject(manifest(), { "a.txt": "hello\n" });
    const env = podEnv(server.url);
    expect((await runPod(["run", "read a.txt"], { cwd: dir, env })).code).toBe(0);
    const later = await runPod(["run", "now edit it"], { cwd: dir, env });
    expect(ofType(later.events, "tool_result")[0]).toMatchObject({ is_error: true, output: "a.txt has not been read in this session yet. Read it first, then edit it." });
    expect(await readFile(path.join(dir, "a.txt"), "utf8")).toBe("hello\n");
  });
});
