import path from "node:path";
import { describe, expect, it } from "vitest";
import { startFakeServer } from "../fake-server/server.js";
import { MANIFEST, SCRIPT } from "../helpers/crash-trial.js";
import { makeProject, parseJsonl, podEnv } from "../helpers/pod-process.js";
import { hasStrace, tracedPod, type Sys } from "../helpers/strace.js";

/**
 * The run's recording follows the session's crash-safety rule (docs/runtime.md, "Durability";
 * issue 24), checked on the real binary's system calls as durability.test.ts checks the
 * session: every line of runs/<id>/records.jsonl is written before the stdout line that
 * announces what it records (a request before it is sent, a response before its `usage`
 * line, a tool result before its `tool_result` line), the recording is fdatasynced at the
 * session's sync points and never once per line, and its last lines are durable before
 * run_end.
 */

describe("the recording's durability (strace of the real binary)", () => {
  it("writes each record before the line that announces it, and syncs per turn, not per line", async () => {
    expect(hasStrace, "strace is needed for this test: apt-get install -y strace").toBe(true);
    const server = await startFakeServer(SCRIPT);
    const dir = await makeProject(MANIFEST, { "a.txt": "alpha\n" });
    const traceFile = path.join(dir, "trace.txt");
    const { code, stdout, stderr, calls } = await tracedPod(["run", "do the work"], {
      cwd: dir,
      env: podEnv(server.url) as NodeJS.ProcessEnv,
      syscalls: ["write", "writev", "pwrite64", "fsync", "fdatasync", "execve", "sendto", "sendmsg"],
      traceFile,
    });
    await server.close();
    expect(code, stderr).toBe(0);
    const events = parseJsonl(stdout);
    const runId = events[0].run_id;

    const isRecords = (c: Sys) => c.fdPath.endsWith(`/runs/${runId}/records.jsonl`);
    const recordWrites = calls.filter((c) => isRecords(c) && c.name === "write");
    const recordSyncs = calls.filter((c) => isRecords(c) && (c.name === "fdatasync" || c.name === "fsync"));
    const sessionSyncs = calls.filter((c) => c.fdPath.includes("/sessions/") && c.fdPath.endsWith(".jsonl") && (c.name === "fdatasync" || c.name === "fsync"));
    const stdoutFd = calls.find((c) => (c.name === "write" || c.name === "writev") && c.data.includes('"type":"run_start"'))!.fdPath;
    const stdoutWrites = calls.filter((c) => c.fdPath === stdoutFd && (c.name === "write" || c.name === "writev"));
    const records = recordWrites.map((w) => ({ record: JSON.parse(w.data), written: w.end }));
    expect(records.filter((r) => r.record.kind === "request")).toHaveLength(6);

    // Each request is recorded before a byte of it goes to the API's socket.
    const sends = calls.filter((c) => c.fdPath.startsWith("TCP:") || c.fdPath.startsWith("socket:")).filter((c) => c.data.includes("POST /v1/messages"));
    expect(sends.length).toBe(6);
    sends.forEach((send, i) => {
      const req = records.find((r) => r.record.kind === "request" && r.record.n === i + 1)!;
      expect(req.written, `request ${i + 1} recorded before it was sent`).toBeLessThan(send.start);
    });

    // Each response is recorded before its usage line; each tool result before its tool_result line.
    let usage = 0;
    for (const w of stdoutWrites) {
      for (const line of w.data.split("\n").filter(Boolean)) {
        const e = JSON.parse(line);
        if (e.type === "usage") {
          usage++;
          const resp = records.filter((r) => r.record.kind === "response")[usage - 1];
          expect(resp, `response ${usage} is recorded`).toBeDefined();
          expect(resp!.written, `usage ${usage} printed before its response was recorded`).toBeLessThan(w.start);
        }
        if (e.type === "tool_result") {
          const rec = records.find((r) => r.record.kind === "tool_result" && r.record.id === e.id);
          expect(rec, `the result of ${e.id} is recorded`).toBeDefined();
          expect(rec!.written, `tool_result ${e.id} printed before it was recorded`).toBeLessThan(w.start);
        }
        if (e.type === "run_end") {
          const sync = recordSyncs.find((s) => s.start > recordWrites.at(-1)!.end);
          expect(sync, "the recording is synced after its last line").toBeDefined();
          expect(sync!.end, "run_end printed before the recording's last sync").toBeLessThan(w.start);
        }
      }
    }
    expect(usage).toBe(6);

    // Per turn, not per line: 6 requests + 6 responses + 5 results = 17 lines, and no more
    // syncs of the recording than of the session (plus the one at the end).
    expect(recordWrites.length).toBe(17);
    expect(recordSyncs.length).toBeLessThanOrEqual(sessionSyncs.length + 1);
    expect(recordSyncs.length).toBeLessThan(recordWrites.length);
    // Each sync of the recording (but the last, at its close) follows a sync of the session
    // that came after the recording's previous one: it rides on the session's sync points.
    recordSyncs.slice(0, -1).forEach((rs, i) => {
      const after = i === 0 ? -1 : recordSyncs[i - 1]!.start;
      expect(sessionSyncs.some((ss) => ss.start > after && ss.start < rs.start), `recording sync ${i + 1} without a session sync before it`).toBe(true);
    });
  }, 60_000);
});
