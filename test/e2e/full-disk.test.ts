import { afterEach, describe, expect, it } from "vitest";
import { startFakeServer, type FakeServer } from "../fake-server/server.js";
import { apiHistoryProblems } from "../helpers/api-history.js";
import { makeProject, manifest, ofType, podEnv, runPod } from "../helpers/pod-process.js";
import { smallDisk, type SmallDisk } from "../helpers/small-disk.js";
import { textTurn } from "../helpers/turns.js";

/**
 * A full disk while saving (docs/reliability.md, "Sessions"): the runtime directory on a
 * 256 KiB tmpfs, mounted in a user namespace so no root is needed (helpers/small-disk.ts).
 */
let server: FakeServer | undefined;
let disk: SmallDisk | undefined;
afterEach(async () => {
  await server?.close();
  await disk?.close();
  server = disk = undefined;
});

describe("a full disk", () => {
  it("ENOSPC ends the run with a clear error and loses no completed turn; with room again the pod carries on", async () => {
    disk = await smallDisk(256);
    // The big answer's 400 KB cannot be saved; its delivery in large pieces keeps the run short.
    server = await startFakeServer({ turns: [textTurn("small first answer"), textTurn("x".repeat(400_000), { delivery: { text_split: 4096, chunk_bytes: 65_536 } }), textTurn("after space was freed")] });
    const dir = await makeProject(manifest({ scope: false }));
    const opts = { cwd: dir, env: podEnv(server.url, { POD_RUNTIME_DIR: disk.dir }), prefix: disk.enter(dir) };
    expect((await runPod(["run", "first"], opts)).code).toBe(0);
    const r = await runPod(["run", "say a lot"], opts);
    expect(r.code).toBe(1);
    const err = ofType(r.events, "error")[0];
    // The response is recorded (runs/<id>/records.jsonl) just before it is stored in the session: either write meets the full disk first.
    expect(err.message).toMatch(/cannot write .*(sessions\/.*\.jsonl|runs\/.*\/records\.jsonl) \(ENOSPC: no space left on device\).*free disk space/);
    expect(r.events.at(-1)).toMatchObject({ type: "run_end", result: "error" });
    // Nothing completed was lost, and once there is room the pod carries on.
    await disk.resize(4096);
    const history = await runPod(["history"], opts);
    expect(history.events.slice(0, 3).map((m) => m.content[0].text)).toEqual(["first", "small first answer", "say a lot"]);
    let next = await runPod(["resume"], opts);
    if (next.code === 3) next = await runPod(["run", "go on"], opts);
    expect(next.code).toBe(0);
    expect(apiHistoryProblems(server.requests.at(-1)!.body.messages)).toEqual([]);
  });
});
