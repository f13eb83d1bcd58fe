import { existsSync } from "node:fs";
import { mkdtemp } from "node:fs/promises";
import { tmpdir } from "node:os";
import path from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import { startFakeServer, type FakeServer } from "../fake-server/server.js";
import { makeProject, manifest, podEnv, runPod } from "../helpers/pod-process.js";

let server: FakeServer | undefined;
afterEach(async () => {
  await server?.close();
  server = undefined;
});

describe("pod init refusals are one error line", () => {
  it('--name "Bad Name": invalid_input naming the fix, exit 2, no pod.toml', async () => {
    const dir = await mkdtemp(path.join(tmpdir(), "pod-init-"));
    const r = await runPod(["init", "--name", "Bad Name"], { cwd: dir, env: podEnv(undefined) });
    expect(r.code).toBe(2);
    expect(r.events).toEqual([expect.objectContaining({ type: "error", code: "invalid_input" })]);
    expect(r.events[0].message).toContain('"Bad Name"');
    expect(r.events[0].message).toContain("--name bad-name");
    expect(existsSync(path.join(dir, "pod.toml"))).toBe(false);
  });

  it("an existing pod.toml: invalid_input, exit 2; success prints nothing on stdout", async () => {
    const dir = await mkdtemp(path.join(tmpdir(), "pod-init-"));
    const ok = await runPod(["init", "--name", "good"], { cwd: dir, env: podEnv(undefined) });
    expect(ok.code).toBe(0);
    expect(ok.stdout).toBe("");
    const again = await runPod(["init"], { cwd: dir, env: podEnv(undefined) });
    expect(again.code).toBe(2);
    expect(again.events).toEqual([expect.objectContaining({ type: "error", code: "invalid_input", message: expect.stringContaining("--force") })]);
  });
});

describe("an unknown session id is not_found, exit 2", () => {
  it("history --session nope (and a path posing as an id)", async () => {
    server = await startFakeServer({ turns: [{ response: { content: [{ type: "text", text: "hi" }] } }] });
    const dir = await makeProject(manifest({ scope: false }));
    expect((await runPod(["run", "hello"], { cwd: dir, env: podEnv(server.url) })).code).toBe(0);
    for (const id of ["nope", "../status"]) {
      const r = await runPod(["history", "--session", id], { cwd: dir, env: podEnv(undefined) });
      expect(r.code).toBe(2);
      expect(r.events).toEqual([expect.objectContaining({ type: "error", code: "not_found", message: expect.stringContaining("pod sessions") })]);
    }
  });
});
