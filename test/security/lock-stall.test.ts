import { readdir, readFile, stat, utimes } from "node:fs/promises";
import path from "node:path";
import { setTimeout as sleep } from "node:timers/promises";
import { afterEach, describe, expect, it } from "vitest";
import { startFakeServer, type FakeServer } from "../fake-server/server.js";
import { collect, makeProject, manifest, ofType, podEnv, runPod, spawnPod } from "../helpers/pod-process.js";
import { DEAD_OWNER_STALE_MS } from "../../src/store/lock.js";

/**
 * Attack: stall the lock owner's event loop (a hostile regex, a blocking read…) long
 * past the lock's stale time, then start a second `pod run`. Before the fix the
 * second run took the lock over after ~10 s from the LIVE owner; when the owner
 * woke, both wrote the same session file. SIGSTOP is a real, total stall (no test
 * hook in pod): the owner's timers, I/O and lock refresh all stop.
 *
 * The stall need not last minutes to stand for one: the lock's age is all a second run
 * can see of it. So the owner is really stopped past the dead-owner grace (2 s, the
 * longest a live owner's silence is judged by), and then its lock is aged by an hour
 * (past proper-lockfile's 10 s, the remote owners' 60 s, any mtime rule) before more
 * runs try; the real mtime goes back before SIGCONT, as the owner left it.
 */
let server: FakeServer | undefined;
afterEach(async () => {
  await server?.close();
  server = undefined;
});

const usage = { input_tokens: 10, output_tokens: 5, cache_read_input_tokens: 0, cache_creation_input_tokens: 0 };
const HOUR_MS = 3_600_000;

describe("a stalled lock owner is never displaced", () => {
  it(
    "owner stopped past the stale time, its lock an hour old: second runs exit 3 already_running, nothing is overwritten, the owner completes",
    async () => {
      server = await startFakeServer({
        turns: [
          // Slow enough that the owner is mid-stream when it is stopped.
          { response: { content: [{ type: "text", text: "owner answer ".repeat(40) }], stop_reason: "end_turn", usage }, delivery: { text_split: 8, delay_ms: 30, chunk_bytes: 40, ping_every: 0 } },
          { response: { content: [{ type: "text", text: "intruder answer" }], stop_reason: "end_turn", usage } },
        ],
      });
      const dir = await makeProject(manifest({ scope: false }));
      const env = podEnv(server.url);
      const lock = path.join(dir, ".pod/tester/lock");
      const owner = spawnPod(["run", "owner prompt"], { cwd: dir, env });
      const ownerDone = collect(owner, ["run"]);
      await new Promise<void>((resolve) => owner.stdout!.on("data", (d: Buffer) => d.toString().includes("text_delta") && resolve()));

      owner.kill("SIGSTOP");
      const stoppedAt = Date.now();
      const attempts: Array<{ at: string; code: number | null; events: any[] }> = [];
      const attempt = async (at: string) => {
        const r = await runPod(["run", `intruder ${at}`], { cwd: dir, env });
        attempts.push({ at, code: r.code, events: r.events });
      };
      let left: Date | undefined;
      try {
        await attempt("at once");
        // Past the dead-owner grace by the owner's own silence: its last refresh is older still.
        const wait = stoppedAt + DEAD_OWNER_STALE_MS + 500 - Date.now();
        if (wait > 0) await sleep(wait);
        expect(Date.now() - (await stat(lock)).mtimeMs).toBeGreaterThan(DEAD_OWNER_STALE_MS);
        await attempt("past the grace");
        // An hour-old lock, as after an hour's stall.
        left = (await stat(lock)).mtime;
        const old = new Date(Date.now() - HOUR_MS);
        await utimes(lock, old, old);
        await attempt("an hour old");
        await attempt("an hour old, again");
      } finally {
        if (left) await utimes(lock, left, left);
        owner.kill("SIGCONT");
      }
      expect(attempts.map((a) => a.at)).toEqual(["at once", "past the grace", "an hour old", "an hour old, again"]);

      for (const a of attempts) {
        expect({ at: a.at, code: a.code }).toEqual({ at: a.at, code: 3 });
        expect(a.events).toEqual([expect.objectContaining({ type: "error", code: "already_running" })]);
      }

      const done = await ownerDone;
      expect(done.code).toBe(0);
      expect(ofType(done.events, "run_end")).toEqual([expect.objectContaining({ result: "finished" })]);
      // Only the owner ever reached the model.
      expect(server.requests).toHaveLength(1);

      // The session file is intact: every line is JSON, one session, only the owner's turn.
      const sessions = path.join(dir, ".pod/tester/sessions");
      const files = (await readdir(sessions)).filter((f) => f.endsWith(".jsonl"));
      expect(files).toHaveLength(1);
      const lines = (await readFile(path.join(sessions, files[0]!), "utf8")).split("\n").filter(Boolean).map((l) => JSON.parse(l));
      expect(lines.map((l) => l.kind)).toEqual(["session", "message", "message"]);
      expect(lines[1].message.content[0].text).toBe("owner prompt");
      expect(lines[2].message.content[0].text).toBe("owner answer ".repeat(40));

      const status = await runPod(["status"], { cwd: dir, env });
      expect(status.code).toBe(0);
      expect(status.events[0]).toMatchObject({ status: "idle", last_result: "finished" });
      const history = await runPod(["history"], { cwd: dir, env });
      expect(history.code).toBe(0);
      expect(history.events.map((m) => m.role)).toEqual(["user", "assistant"]);

      // And the lock is free again: the next run goes through.
      const next = await runPod(["run", "after the stall"], { cwd: dir, env });
      expect(next.code).toBe(0);
    },
    90_000,
  );
});
