import { afterEach, describe, expect, it } from "vitest";
import { startFakeServer, type FakeServer } from "../fake-server/server.js";
import { makeProject, manifest, podEnv, readStatus, runPod } from "../helpers/pod-process.js";
import { textTurn } from "../helpers/turns.js";

/** Which session a run continues: --new, --session, and ids that name none. */

let server: FakeServer | undefined;
afterEach(async () => {
  await server?.close();
  server = undefined;
});

describe("sessions: --new, --session, not_found", () => {
  it("starts fresh with --new, continues a stored session with --session (it becomes current), refuses unknown ids", async () => {
    server = await startFakeServer({
      turns: [
        textTurn("one"),
        textTurn("two", { expect: { last_user_text_includes: "fresh" } }),
        textTurn("three", { expect: { last_user_text_includes: "back to the first" } }),
      ],
    });
    const dir = await makeProject(manifest({ scope: false }));
    const env = podEnv(server.url);
    const a = await runPod(["run", "first session"], { cwd: dir, env });
    const b = await runPod(["run", "fresh start", "--new"], { cwd: dir, env });
    const first = a.events[0].session_id;
    const second = b.events[0].session_id;
    expect(second).not.toBe(first);
    expect(server.requests[1]!.body.messages).toHaveLength(1);

    const c = await runPod(["run", "back to the first", "--session", first], { cwd: dir, env });
    expect([a.code, b.code, c.code]).toEqual([0, 0, 0]);
    expect(c.events[0].session_id).toBe(first);
    expect(server.requests[2]!.body.messages).toHaveLength(3);
    expect(await readStatus(dir)).toMatchObject({ session_id: first, status: "idle" });
    expect(server.mismatches).toEqual([]);

    const other = await runPod(["history", "--session", second], { cwd: dir, env });
    expect(other.events.map((m) => m.content[0].text)).toEqual(["fresh start", "two"]);
    for (const args of [
      ["run", "x", "--session", "20260101T000000Z-abcdef"],
      ["run", "x", "--session", "../../etc/passwd"],
      ["history", "--session", "nope"],
      ["compact", "--session", "nope"],
    ]) {
      const r = await runPod(args, { cwd: dir, env });
      expect(r.code, args.join(" ")).toBe(2);
      expect(r.events, args.join(" ")).toMatchObject([{ type: "error", code: "not_found" }]);
    }
    expect(server.requests).toHaveLength(3);
  });
});
