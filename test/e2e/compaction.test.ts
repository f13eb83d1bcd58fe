import { readdir, readFile } from "node:fs/promises";
import path from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import { startFakeServer, type FakeServer } from "../fake-server/server.js";
import { apiHistoryProblems, withoutCacheControl } from "../helpers/api-history.js";
import { makeProject, manifest, ofType, podEnv, runPod } from "../helpers/pod-process.js";

let server: FakeServer | undefined;
/** Requests to /v1/messages only (count_tokens calls are recorded too). */
const messageRequests = () => server!.requests.filter((r) => r.path === "/v1/messages").map((r) => r.body);
afterEach(async () => {
  await server?.close();
  server = undefined;
});

const u = (input: number, output = 10, cacheRead = 0, cacheWrite = 0) => ({ input_tokens: input, output_tokens: output, cache_read_input_tokens: cacheRead, cache_creation_input_tokens: cacheWrite });
const tool = (id: string, name: string, input: object, usage = u(100)) => ({ response: { content: [{ type: "tool_use", id, name, input }], stop_reason: "tool_use", usage } });
const text = (t: string, usage = u(100), extra: object = {}) => ({ response: { content: [{ type: "text", text: t }], stop_reason: "end_turn", usage }, ...extra });
const compactManifest = (threshold: number, keep: number) => manifest({ extra: `\n[compaction]\nthreshold_tokens = ${threshold}\nkeep_recent_turns = ${keep}\n` });

/** A three-turn run: Read, Edit, then a final answer whose usage says how big the context is. */
const workTurns = (finalInput: number) => [
  tool("toolu_read", "Read", { path: "a.txt" }),
  tool("toolu_edit", "Edit", { path: "a.txt", old_string: "one", new_string: "two" }),
  text("Changed one to two.", u(finalInput)),
];

describe("compaction", () => {
  it("compacts after a run above the threshold, keeps recent turns and pairs, names touched files", async () => {
    server = await startFakeServer({
      turns: [
        ...workTurns(5000),
        { expect: { last_user_text_includes: "Files read: a.txt" }, ...text("SUMMARY: read a.txt, replaced one with two.") },
        { expect: { last_user_text_includes: "next task" }, ...text("Next done.") },
      ],
    });
    const dir = await makeProject(compactManifest(1000, 2), { "a.txt": "one\n" });
    const env = podEnv(server.url);
    const r = await runPod(["run", "change one to two"], { cwd: dir, env });
    expect(r.code).toBe(0);
    expect(server.mismatches).toEqual([]);
    const c = ofType(r.events, "compaction");
    expect(c).toHaveLength(1);
    expect(c[0].tokens_after).toBeLessThan(c[0].tokens_before);
    // compaction comes before run_end, and the run still ends finished
    expect(r.events.at(-1)).toMatchObject({ type: "run_end", result: "finished", turns: 3 });

    // The summary request: not streamed; the run's own request (so its prefix is read from
    // the prompt cache) with the instruction and the touched files appended.
    const summaryReq = messageRequests()[3]!;
    const lastTurnReq = messageRequests()[2]!;
    expect(summaryReq.stream).toBeFalsy();
    expect(summaryReq.tools).toEqual(lastTurnReq.tools);
    expect(summaryReq.system).toEqual(lastTurnReq.system);
    expect(withoutCacheControl(summaryReq.messages.slice(0, lastTurnReq.messages.length))).toEqual(withoutCacheControl(lastTurnReq.messages));
    const summaryPrompt = summaryReq.messages.at(-1).content.at(-1).text;
    expect(summaryPrompt).toContain("Files written: a.txt");
    expect(summaryPrompt).toMatch(/Summarize the conversation above up to, not including, your last 2 responses/);
    expect(summaryReq.messages.flatMap((m: any) => m.content).some((b: any) => b.type === "tool_use" && b.name === "Read")).toBe(true);
    expect(apiHistoryProblems(summaryReq.messages)).toEqual([]);

    // The next run sees the summary, then the two kept turns verbatim, pairs intact.
    expect((await runPod(["run", "next task"], { cwd: dir, env })).code).toBe(0);
    const msgs = messageRequests()[4]!.messages;
    expect(apiHistoryProblems(msgs)).toEqual([]);
    expect(msgs[0].content[0].text).toMatch(/^\[This session was compacted[\s\S]*SUMMARY: read a.txt[\s\S]*Files written: a.txt/);
    expect(msgs[1]).toMatchObject({ role: "assistant", content: [{ type: "tool_use", id: "toolu_edit" }] });
    expect(msgs[2].content[0]).toMatchObject({ type: "tool_result", tool_use_id: "toolu_edit" });
    expect(msgs.map((m: any) => m.role)).toEqual(["user", "assistant", "user", "assistant", "user"]);

    // Nothing is thrown away: --full still has every message.
    const full = await runPod(["history", "--full"], { cwd: dir, env });
    expect(full.events.filter((m) => m.role === "assistant")).toHaveLength(4);
    const view = await runPod(["history"], { cwd: dir, env });
    expect(view.events[0]).toMatchObject({ compaction_summary: true });
    expect(view.events.filter((m) => m.role === "assistant")).toHaveLength(3);
  });

  it("does not compact at or below the threshold", async () => {
    server = await startFakeServer({ turns: workTurns(990) });
    const dir = await makeProject(compactManifest(1000, 1), { "a.txt": "one\n" });
    const r = await runPod(["run", "small"], { cwd: dir, env: podEnv(server.url) });
    expect(r.code).toBe(0);
    expect(ofType(r.events, "compaction")).toEqual([]);
    expect(messageRequests()).toHaveLength(3);
    expect(server.requests).toHaveLength(3);
  });

  it("a failed summary request is an error event, leaves the session file byte-identical, and pod compact retries", async () => {
    server = await startFakeServer({
      turns: [...workTurns(100), { ...text("never"), fault: { kind: "http", status: 500, times: 1 } }, text("SUMMARY: fine now.")],
    });
    const dir = await makeProject(compactManifest(100_000, 1), { "a.txt": "one\n" });
    const env = podEnv(server.url, { POD_MAX_RETRIES: "0" });
    expect((await runPod(["run", "work"], { cwd: dir, env })).code).toBe(0);
    const sessions = path.join(dir, ".pod/tester/sessions");
    const file = path.join(sessions, (await readdir(sessions)).find((n) => n.endsWith(".jsonl"))!);
    const before = await readFile(file);

    const failed = await runPod(["compact"], { cwd: dir, env });
    expect(failed.code).toBe(1);
    expect(failed.events).toEqual([expect.objectContaining({ type: "error", code: "provider_error" })]);
    expect(failed.events[0].message).toMatch(/compaction failed: HTTP 500/);
    expect((await readFile(file)).equals(before)).toBe(true);

    const ok = await runPod(["compact"], { cwd: dir, env });
    expect(ok.code).toBe(0);
    expect(ok.events).toEqual([expect.objectContaining({ type: "compaction" })]);
    expect((await readFile(file)).length).toBeGreaterThan(before.length);
  });

  it("compacts mid-run before the context window overflows", async () => {
    server = await startFakeServer({
      turns: [
        tool("toolu_1", "Glob", { pattern: "*" }, u(9000)),
        tool("toolu_2", "Glob", { pattern: "*.txt" }, u(9500)),
        { expect: { last_user_text_includes: "Summarize" }, ...text("SUMMARY: globbed twice.") },
        text("Finished after compaction.", u(300)),
      ],
    });
    const dir = await makeProject(compactManifest(100_000, 1), { "a.txt": "one\n" });
    const r = await runPod(["run", "big work"], { cwd: dir, env: podEnv(server.url, { POD_CONTEXT_WINDOW: "10000" }) });
    expect(r.code).toBe(0);
    expect(server.mismatches).toEqual([]);
    // Compacted between turn 2 and turn 3, before the request that would have been too big.
    const seqOf = (pred: (e: any) => boolean) => r.events.find(pred)!.seq;
    const compactionSeq = seqOf((e) => e.type === "compaction");
    expect(compactionSeq).toBeGreaterThan(seqOf((e) => e.type === "turn_end" && e.turn === 2));
    expect(compactionSeq).toBeLessThan(seqOf((e) => e.type === "turn_start" && e.turn === 3));
    expect(ofType(r.events, "compaction")).toHaveLength(1);
    const after = messageRequests()[3]!.messages;
    expect(after[0].content[0].text).toContain("SUMMARY: globbed twice.");
    expect(apiHistoryProblems(after)).toEqual([]);
  });
});

describe("prompt caching and usage", () => {
  it("marks at most 4 cache breakpoints and reports cache reads; totals add up across turns, runs and cost", async () => {
    server = await startFakeServer({
      turns: [tool("toolu_1", "Glob", { pattern: "*" }, u(1000, 20, 0, 900)), text("done", u(50, 10, 950, 0)), text("again", u(60, 5, 1000, 0))],
    });
    const dir = await makeProject(manifest(), { "a.txt": "x\n" });
    const env = podEnv(server.url);
    const first = await runPod(["run", "cache me"], { cwd: dir, env });
    expect(first.code).toBe(0);
    for (const req of server.requests) {
      const marks = (JSON.stringify(req.body).match(/"cache_control"/g) ?? []).length;
      expect(marks).toBeGreaterThanOrEqual(3);
      expect(marks).toBeLessThanOrEqual(4);
      expect(req.body.tools.at(-1).cache_control).toEqual({ type: "ephemeral" });
      expect(req.body.tools.slice(0, -1).every((t: any) => !t.cache_control)).toBe(true);
      expect(req.body.messages.at(-1).content.at(-1).cache_control).toEqual({ type: "ephemeral" });
    }
    const usages = ofType(first.events, "usage");
    expect(usages.map((e) => e.cache_read_input_tokens)).toEqual([0, 950]);
    const end = first.events.at(-1);
    expect(end.usage).toEqual({ input_tokens: 1050, output_tokens: 30, cache_read_input_tokens: 950, cache_creation_input_tokens: 900 });
    // claude-sonnet-5-5: $2/M in, $10/M out, cache write 1.25×, cache read 0.1×.
    const expected = (1050 * 2 + 30 * 10 + 900 * 2.5 + 950 * 0.2) / 1e6;
    expect(end.cost_usd).toBeCloseTo(expected, 4);

    const second = await runPod(["run", "more"], { cwd: dir, env });
    const status = JSON.parse(await readFile(path.join(dir, ".pod/tester/status.json"), "utf8"));
    expect(status.usage).toEqual({ input_tokens: 1110, output_tokens: 35, cache_read_input_tokens: 1950, cache_creation_input_tokens: 900 });
    expect(status.cost_usd).toBeCloseTo(end.cost_usd + second.events.at(-1).cost_usd, 4);
  });

  it("gives no cost for a model without a price, instead of guessing", async () => {
    server = await startFakeServer({ turns: [text("hi")] });
    const dir = await makeProject(manifest({ scope: false }));
    const r = await runPod(["run", "hi", "--model", "claude-experimental-9"], { cwd: dir, env: podEnv(server.url) });
    expect(r.events.at(-1)).toMatchObject({ type: "run_end", cost_usd: null });
    expect(server.requests[0]!.body.model).toBe("claude-experimental-9");
    const status = JSON.parse(await readFile(path.join(dir, ".pod/tester/status.json"), "utf8"));
    expect(status.cost_usd).toBeNull();
  });
});
