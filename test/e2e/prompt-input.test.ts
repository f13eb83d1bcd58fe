import { existsSync } from "node:fs";
import { afterEach, describe, expect, it } from "vitest";
import { startFakeServer, type FakeServer } from "../fake-server/server.js";
import { makeProject, manifest, podDirOf, podEnv, runPod } from "../helpers/pod-process.js";
import { textTurn } from "../helpers/turns.js";

/** The prompt as an argument or on stdin: too big or not UTF-8 is a usage error, before anything is touched. */
let server: FakeServer | undefined;
afterEach(async () => {
  await server?.close();
  server = undefined;
});

describe("bad input", () => {
  it("rejects a multi-MB prompt and invalid UTF-8 on stdin; accepts a prompt on stdin", async () => {
    server = await startFakeServer({ turns: [textTurn("got it from stdin")] });
    const dir = await makeProject(manifest({ scope: false }));
    const env = podEnv(server.url);
    const big = await runPod(["run", "-"], { cwd: dir, env, stdin: "x".repeat(3 * 1024 * 1024) });
    expect(big.code).toBe(2);
    expect(big.events[0]).toMatchObject({ type: "error", code: "invalid_input" });
    expect(big.events[0].message).toMatch(/more than the 1048576-byte limit|more than 1048576 bytes/);
    const bad = await runPod(["run", "-"], { cwd: dir, env, stdin: Buffer.from([0x66, 0x69, 0x78, 0xff, 0xfe, 0x20]) });
    expect(bad.code).toBe(2);
    expect(bad.events[0].message).toMatch(/not valid UTF-8/);
    expect(existsSync(podDirOf(dir))).toBe(false);
    const ok = await runPod(["run", "-"], { cwd: dir, env, stdin: "fix it from stdin\n" });
    expect(ok.code).toBe(0);
    expect(ok.events[0]).toMatchObject({ type: "run_start", input: "fix it from stdin\n" });
  });
});
