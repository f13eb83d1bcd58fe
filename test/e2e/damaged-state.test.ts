import { appendFile, readdir, readFile, writeFile } from "node:fs/promises";
import path from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import { startFakeServer, type FakeServer } from "../fake-server/server.js";
import { makeProject, manifest, ofType, podDirOf, podEnv, runPod } from "../helpers/pod-process.js";
import { textTurn } from "../helpers/turns.js";

/**
 * Runtime state that is damaged or was changed behind pod's back: each is repaired or
 * refused with the file and the fix, never used as it is (docs/reliability.md, "Sessions").
 * recovery.test.ts has the recoveries the errors point to; full-disk.test.ts a full disk.
 */
let server: FakeServer | undefined;
afterEach(async () => {
  await server?.close();
  server = undefined;
});

describe("corrupt or hostile state", () => {
  async function pod(turns: object[]) {
    server = await startFakeServer({ turns });
    const dir = await makeProject(manifest({ scope: false }));
    const env = podEnv(server.url);
    expect((await runPod(["run", "first"], { cwd: dir, env })).code).toBe(0);
    return { dir, env };
  }

  for (const [label, damage] of [
    ["garbage", () => "\u0000\u0001 not json at all"],
    ["truncated", (s: string) => s.slice(0, s.length / 2)],
    ["wrong shape", () => JSON.stringify({ hello: "world" })],
  ] as const) {
    it(`a ${label} status.json is kept as a backup and rebuilt from the session store`, async () => {
      const { dir, env } = await pod([textTurn("one"), textTurn("two")]);
      const file = path.join(podDirOf(dir), "status.json");
      const original = await readFile(file, "utf8");
      const damaged = damage(original);
      await writeFile(file, damaged);

      const status = await runPod(["status"], { cwd: dir, env });
      expect(status.code).toBe(1);
      expect(status.events[0].message).toContain(file);
      expect(status.events[0].message).toMatch(/rebuilds it/);

      const r = await runPod(["run", "second"], { cwd: dir, env });
      expect(r.code).toBe(0);
      expect(ofType(r.events, "state_repaired")[0].message).toMatch(/damaged/);
      const backups = (await readdir(podDirOf(dir))).filter((n) => n.startsWith("status.json.corrupt-"));
      expect(backups).toHaveLength(1);
      expect(await readFile(path.join(podDirOf(dir), backups[0]!), "utf8")).toBe(damaged);
      // Same session continues: the model sees the first exchange.
      expect(server!.requests[1]!.body.messages.map((m: any) => m.content[0].text)).toEqual(["first", "one", "second"]);
    });
  }

  it("a torn last line in the session file is ignored, backed up, and cut before appending", async () => {
    const { dir, env } = await pod([textTurn("one"), textTurn("two")]);
    const sessions = path.join(podDirOf(dir), "sessions");
    const file = path.join(sessions, (await readdir(sessions))[0]!);
    await appendFile(file, '{"kind":"message","turn":2,"ts":"x","message":{"role":"assistant","content":[{"type":"te');
    expect((await runPod(["history"], { cwd: dir, env })).events).toHaveLength(2);
    expect((await runPod(["run", "again"], { cwd: dir, env })).code).toBe(0);
    expect((await readdir(sessions)).some((n) => n.includes(".torn-"))).toBe(true);
    expect((await runPod(["history"], { cwd: dir, env })).events).toHaveLength(4);
  });

  it("a damaged line in the middle of a session is refused with the file and line, and nothing is changed", async () => {
    const { dir, env } = await pod([textTurn("one")]);
    const sessions = path.join(podDirOf(dir), "sessions");
    const file = path.join(sessions, (await readdir(sessions))[0]!);
    const lines = (await readFile(file, "utf8")).split("\n");
    lines.splice(1, 0, "{broken");
    await writeFile(file, lines.join("\n"));
    const before = await readFile(file, "utf8");
    const r = await runPod(["run", "more"], { cwd: dir, env });
    expect(r.code).toBe(1);
    expect(r.events).toHaveLength(1);
    expect(r.events[0].message).toMatch(/damaged at line 2/);
    expect(r.events[0].message).toContain(file);
    expect(await readFile(file, "utf8")).toBe(before);
  });

  it("a manifest that changed since the snapshot is used as it is now; the old snapshot is kept", async () => {
    const { dir, env } = await pod([textTurn("one"), textTurn("two")]);
    await writeFile(path.join(dir, "pod.toml"), manifest({ scope: false }).replace("max_turns = 10", "max_turns = 7"));
    const r = await runPod(["run", "again"], { cwd: dir, env });
    expect(r.code).toBe(0);
    expect(r.stderr).toMatch(/changed since the last run/);
    expect(await readFile(path.join(podDirOf(dir), "manifest.toml.prev"), "utf8")).toMatch(/max_turns = 10/);
    expect(await readFile(path.join(podDirOf(dir), "manifest.toml"), "utf8")).toMatch(/max_turns = 7/);
  });

  it("a runtime directory that cannot be created is a clear usage error", async () => {
    const dir = await makeProject(manifest({ scope: false }), { "blocker": "a file, not a directory" });
    const r = await runPod(["run", "hi", "--runtime-dir", "blocker/rt"], { cwd: dir, env: podEnv("http://127.0.0.1:9") });
    expect(r.code).toBe(2);
    expect(r.events[0].message).toMatch(/cannot create the runtime directory .*blocker\/rt\/tester \(ENOTDIR\).*--runtime-dir/);
  });
});
