import { spawn } from "node:child_process";
import { readFileSync, writeFileSync } from "node:fs";
import path from "node:path";
import { describe, expect, it } from "vitest";
import { startFakeServer } from "../fake-server/server.js";
import { MANIFEST, SCRIPT } from "../helpers/crash-trial.js";
import { makeProject, parseJsonl, podEnv, POD_BIN, runPod } from "../helpers/pod-process.js";
import { hasStrace, tracedPod, type Sys } from "../helpers/strace.js";

/**
 * The durability rule (docs/runtime.md, "Crash safety"), checked on the system calls of
 * the real binary, traced with strace: the order in which the kernel saw the session
 * writes, the fdatasyncs, the tools' effects and the stdout writes.
 *
 * - every event line is written to stdout only after the record it announces is written
 *   to the session file (a kill -9 at any instant loses nothing announced);
 * - a tool that can change something (Edit, Write, Bash) runs only after the model's
 *   message naming it is fdatasynced (no effect without its durable intent);
 * - a turn of side-effect-free tools (Glob, Read) makes one fdatasync, not one per line;
 * - run_end comes after every session line is durable.
 *
 * strace is part of the machine (as bwrap and rg are); without it this test fails and says so.
 */

describe("durability per turn (strace of the real binary)", () => {
  it("prints no event before its record is written, syncs a side effect's intent before the effect, and syncs once per read-only turn", async () => {
    expect(hasStrace, "strace is needed for this test: apt-get install -y strace").toBe(true);
    const server = await startFakeServer(SCRIPT);
    const dir = await makeProject(MANIFEST, { "a.txt": "alpha\n" });
    const traceFile = process.env.POD_TRACE_KEEP ?? path.join(dir, "trace.txt");
    const { code, stdout, stderr, calls } = await tracedPod(["run", "do the work"], {
      cwd: dir,
      env: podEnv(server.url) as NodeJS.ProcessEnv,
      syscalls: ["write", "writev", "pwrite64", "fsync", "fdatasync", "execve"],
      traceFile,
    });
    await server.close();
    expect(code, stderr).toBe(0);
    const events = parseJsonl(stdout);
    expect(events.at(-1)).toMatchObject({ type: "run_end", result: "finished", turns: 6 });

    const isSession = (c: Sys) => c.fdPath.includes("/.pod/tester/sessions/") && c.fdPath.endsWith(".jsonl");
    const sessionWrites = calls.filter((c) => isSession(c) && c.name === "write");
    const sessionSyncs = calls.filter((c) => isSession(c) && (c.name === "fdatasync" || c.name === "fsync"));
    // stdout is the pipe (a socket pair) to this test; the first stdout write is run_start's.
    const stdoutFd = calls.find((c) => (c.name === "write" || c.name === "writev") && c.data.includes('"type":"run_start"'))!.fdPath;
    const stdoutWrites = calls.filter((c) => c.fdPath === stdoutFd && (c.name === "write" || c.name === "writev"));
    expect(sessionWrites.length).toBeGreaterThan(10);
    expect(stdoutWrites.length).toBeGreaterThan(10);

    // Each record written to the session, in order.
    const records = sessionWrites.flatMap((w) => w.data.split("\n").filter(Boolean).map((l) => ({ record: JSON.parse(l), written: w.end })));
    const messageOf = (pred: (r: any) => boolean, what: string) => {
      const r = records.find((x) => x.record.kind === "message" && pred(x.record));
      expect(r, `${what} is in the session`).toBeDefined();
      return r!;
    };
    const assistantOf = (turn: number) => messageOf((r) => r.turn === turn && r.message.role === "assistant", `turn ${turn}'s model message`);
    const resultOf = (id: string) => messageOf((r) => r.message.content.some((b: any) => b.type === "tool_result" && b.tool_use_id === id), `the result of ${id}`);

    // 1. No event is printed before the record it announces is written.
    let usageSeen = 0;
    const checked: string[] = [];
    for (const w of stdoutWrites) {
      for (const line of w.data.split("\n").filter(Boolean)) {
        const e = JSON.parse(line);
        const mustFollow = (written: number, what: string) => {
          expect(written, `${e.type} (seq ${e.seq}) printed before ${what} was written`).toBeLessThan(w.start);
          checked.push(e.type);
        };
        if (e.type === "run_start") mustFollow(messageOf((r) => r.message.role === "user", "the prompt").written, "the prompt");
        if (e.type === "usage") {
          usageSeen++;
          mustFollow(assistantOf(usageSeen).written, `turn ${usageSeen}'s model message`);
        }
        if (e.type === "tool_result") mustFollow(resultOf(e.id).written, `the result of ${e.id}`);
        if (e.type === "turn_end") mustFollow(assistantOf(e.turn).written, `turn ${e.turn}'s model message`);
        if (e.type === "run_end") {
          // The end is durable: a sync of the session file after its last write.
          const lastWrite = sessionWrites.at(-1)!.end;
          const sync = sessionSyncs.find((s) => s.start > lastWrite);
          expect(sync, "the session is fdatasynced after its last write").toBeDefined();
          mustFollow(sync!.end, "the session's last sync");
        }
      }
    }
    expect(checked.filter((t) => t === "tool_result")).toHaveLength(5);
    expect(checked.filter((t) => t === "usage")).toHaveLength(6);
    expect(checked).toContain("run_start");
    expect(checked).toContain("run_end");

    // 2. A tool that can change something runs only after the message naming it is durable.
    const effects: Array<[turn: number, tool: string, effect: Sys | undefined]> = [
      [3, "Edit", calls.find((c) => c.name === "write" && /\/\.a\.txt\.pod-[^/]*$/.test(c.fdPath))],
      [4, "Write", calls.find((c) => c.name === "write" && /\/\.b\.txt\.pod-[^/]*$/.test(c.fdPath))],
      [5, "Bash", calls.find((c) => c.name === "execve" && c.data.includes("echo checked"))],
    ];
    for (const [turn, tool, effect] of effects) {
      expect(effect, `${tool}'s effect is in the trace`).toBeDefined();
      const intent = assistantOf(turn).written;
      expect(intent, `${tool}'s message is written before its effect`).toBeLessThan(effect!.start);
      const sync = sessionSyncs.find((s) => s.start > intent);
      expect(sync, `the session is synced after turn ${turn}'s message`).toBeDefined();
      expect(sync!.end, `${tool} ran before the message naming it was durable`).toBeLessThan(effect!.start);
    }

    // 3. A turn of side-effect-free tools (Glob, Read) makes one sync, after its tool result.
    for (const [turn, id] of [[1, "t1"], [2, "t2"]] as const) {
      const from = assistantOf(turn).written;
      const to = assistantOf(turn + 1).written;
      const within = sessionSyncs.filter((s) => s.start > from && s.start < to);
      expect(within, `turn ${turn}: one sync of the session file`).toHaveLength(1);
      expect(within[0]!.start, `turn ${turn}: the sync follows the tool result`).toBeGreaterThan(resultOf(id).written);
    }
  }, 60_000);
});

describe("a hooked side-effect-free tool (strace of the real binary)", () => {
  it("syncs the message naming a Read before its pre_tool_use hook runs: a hook script may do anything", async () => {
    expect(hasStrace, "strace is needed for this test: apt-get install -y strace").toBe(true);
    const server = await startFakeServer({ turns: [SCRIPT.turns[1]!, SCRIPT.turns[5]!] });
    const hook = '\n[[hooks.pre_tool_use]]\nmatcher = "^Read$"\ncommand = "sh hooks/mark.sh"\n';
    const dir = await makeProject(MANIFEST + hook, { "a.txt": "alpha\n", "hooks/mark.sh": "echo marked > marker.txt\n" });
    const traceFile = path.join(dir, "trace.txt");
    const { code, stderr, calls } = await tracedPod(["run", "read it"], {
      cwd: dir,
      env: podEnv(server.url) as NodeJS.ProcessEnv,
      syscalls: ["write", "fdatasync", "fsync", "execve"],
      traceFile,
      strings: 4096,
    });
    await server.close();
    expect(code, stderr).toBe(0);
    expect(readFileSync(path.join(dir, "marker.txt"), "utf8")).toBe("marked\n");

    const isSession = (c: Sys) => c.fdPath.includes("/.pod/tester/sessions/") && c.fdPath.endsWith(".jsonl");
    const intent = calls.find((c) => isSession(c) && c.name === "write" && c.data.includes('"t2"') && c.data.includes('"assistant"'));
    expect(intent, "the model's message naming the Read is written").toBeDefined();
    const hookRun = calls.find((c) => c.name === "execve" && c.data.includes("mark.sh"));
    expect(hookRun, "the hook ran").toBeDefined();
    const sync = calls.find((c) => isSession(c) && (c.name === "fdatasync" || c.name === "fsync") && c.start > intent!.end);
    expect(sync, "the session is synced after the message").toBeDefined();
    expect(sync!.end, "the hook ran before the message naming its call was durable").toBeLessThan(hookRun!.start);
  }, 60_000);
});

describe("status.json after a power loss (per-turn saves are not fsynced)", () => {
  const one = { input_tokens: 10, output_tokens: 5, cache_read_input_tokens: 0, cache_creation_input_tokens: 0 };
  const statusFile = (dir: string) => path.join(dir, ".pod/tester/status.json");

  /** Runs SCRIPT, keeps status.json as it was when run_start was printed (fsynced), and kills the pod after `killAt` tool results. */
  async function runAndKill(killAt: number): Promise<{ dir: string; startStatus: string }> {
    const server = await startFakeServer(SCRIPT);
    const dir = await makeProject(MANIFEST, { "a.txt": "alpha\n" });
    const child = spawn(process.execPath, [POD_BIN, "run", "do the work"], { cwd: dir, env: podEnv(server.url) as NodeJS.ProcessEnv, stdio: ["ignore", "pipe", "pipe"] });
    let startStatus = "";
    let results = 0;
    let buf = "";
    child.stdout.setEncoding("utf8").on("data", (d: string) => {
      buf += d;
      for (let nl = buf.indexOf("\n"); nl >= 0; nl = buf.indexOf("\n")) {
        const e = JSON.parse(buf.slice(0, nl));
        buf = buf.slice(nl + 1);
        if (e.type === "run_start") startStatus = readFileSync(statusFile(dir), "utf8");
        if (e.type === "tool_result" && ++results === killAt) child.kill("SIGKILL");
      }
    });
    await new Promise((resolve) => child.on("close", resolve));
    await server.close();
    return { dir, startStatus };
  }

  async function resume(dir: string) {
    const next = await startFakeServer({ turns: [{ response: { content: [{ type: "text", text: "continued" }], stop_reason: "end_turn", usage: one } }] });
    const r = await runPod(["resume"], { cwd: dir, env: podEnv(next.url) });
    await next.close();
    return r;
  }

  const storedTurns = async (dir: string) => (await runPod(["history"], { cwd: dir, env: podEnv(undefined) })).events.filter((m: any) => m.role === "assistant").length;

  it("a stale running status (the run-start version) is repaired from the session: turn and token totals of every stored turn", async () => {
    const { dir, startStatus } = await runAndKill(4);
    expect(JSON.parse(startStatus)).toMatchObject({ status: "running", turn: 0, usage: { input_tokens: 0 } });
    // What a power loss can leave: the last fsynced status.json, from the run's start.
    writeFileSync(statusFile(dir), startStatus);
    const turns = await storedTurns(dir);
    expect(turns).toBeGreaterThanOrEqual(4);
    const r = await resume(dir);
    expect(r.code, r.stdout).toBe(0);
    expect(r.events.some((e: any) => e.type === "state_repaired")).toBe(true);
    const status = JSON.parse(readFileSync(statusFile(dir), "utf8"));
    // Every turn stored before the kill, plus the resumed one: none lost, none counted twice.
    expect(status.turn).toBe(turns + 1);
    expect(status.usage).toMatchObject({ input_tokens: 10 * (turns + 1), output_tokens: 5 * (turns + 1) });
    expect(status.cost_usd).toBeGreaterThan(0);
  }, 60_000);

  it("an empty status.json (a replace lost on a filesystem without rename ordering) is rebuilt with the session's token totals", async () => {
    const { dir } = await runAndKill(3);
    const turns = await storedTurns(dir);
    writeFileSync(statusFile(dir), "");
    const r = await resume(dir);
    expect(r.code, r.stdout).toBe(0);
    expect(r.events.find((e: any) => e.type === "state_repaired")?.message).toMatch(/token totals recounted from the session/);
    const status = JSON.parse(readFileSync(statusFile(dir), "utf8"));
    expect(status.turn).toBe(turns + 1);
    expect(status.usage).toMatchObject({ input_tokens: 10 * (turns + 1), output_tokens: 5 * (turns + 1) });
  }, 60_000);
});
