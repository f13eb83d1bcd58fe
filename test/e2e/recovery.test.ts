import { spawn } from "node:child_process";
import { chmod, mkdir, readdir, readFile, rm, unlink, utimes, writeFile } from "node:fs/promises";
import path from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import { startFakeServer, type FakeServer } from "../fake-server/server.js";
import { collect, makeProject, manifest, ofType, podEnv, POD_BIN, runPod, type PodResult } from "../helpers/pod-process.js";

/**
 * Damaged or hostile state: every state error has its documented exit code, and the
 * recovery the errors point to (`pod new`) works.
 */
let server: FakeServer | undefined;
afterEach(async () => {
  await server?.close();
  server = undefined;
});

const usage = { input_tokens: 10, output_tokens: 5, cache_read_input_tokens: 0, cache_creation_input_tokens: 0 };
const text = (t: string) => ({ response: { content: [{ type: "text", text: t }], stop_reason: "end_turn", usage } });
const podDir = (dir: string) => path.join(dir, ".pod/tester");
const sessionsDir = (dir: string) => path.join(podDir(dir), "sessions");
const sessionFiles = async (dir: string) => (await readdir(sessionsDir(dir))).filter((n) => n.endsWith(".jsonl")).sort();
const readStatusFile = async (dir: string) => JSON.parse(await readFile(path.join(podDir(dir), "status.json"), "utf8"));

async function ranOnce(turns: object[]) {
  server = await startFakeServer({ turns });
  const dir = await makeProject(manifest({ scope: false }));
  const env = podEnv(server.url);
  const first = await runPod(["run", "first"], { cwd: dir, env });
  expect(first.code).toBe(0);
  return { dir, env };
}

describe("pod new recovers a damaged pod", () => {
  it("a session damaged in the middle: run refuses (exit 1, says `pod new`), pod new starts a fresh one, the next run works", async () => {
    const { dir, env } = await ranOnce([text("one"), text("after recovery")]);
    const [damagedName] = await sessionFiles(dir);
    const damaged = path.join(sessionsDir(dir), damagedName!);
    const lines = (await readFile(damaged, "utf8")).split("\n");
    lines.splice(1, 0, "{not json");
    await writeFile(damaged, lines.join("\n"));
    const before = await readFile(damaged, "utf8");

    const refused = await runPod(["run", "more"], { cwd: dir, env });
    expect(refused.code).toBe(1);
    expect(refused.events[0]).toMatchObject({ type: "error", code: "internal" });
    expect(refused.events[0].message).toMatch(/damaged at line 2.*pod new/);

    const fresh = await runPod(["new"], { cwd: dir, env });
    expect(fresh.code).toBe(0);
    expect(fresh.events).toEqual([]);
    expect(await sessionFiles(dir)).toHaveLength(2);
    expect(await readFile(damaged, "utf8")).toBe(before); // kept as it was, for a person to look at
    const status = await readStatusFile(dir);
    expect(`${status.session_id}.jsonl`).not.toBe(damagedName);
    expect(status).toMatchObject({ status: "idle", turn: 0 });

    const next = await runPod(["run", "go on"], { cwd: dir, env });
    expect(next.code).toBe(0);
    expect(ofType(next.events, "text_done")[0].text).toBe("after recovery");
  });

  it("the current session file is missing: pod new recovers", async () => {
    const { dir, env } = await ranOnce([text("one"), text("two")]);
    const [name] = await sessionFiles(dir);
    await unlink(path.join(sessionsDir(dir), name!));
    const refused = await runPod(["run", "more"], { cwd: dir, env });
    expect(refused.code).toBe(1);
    expect(refused.events[0].message).toMatch(/is missing.*pod new/);
    expect((await runPod(["new"], { cwd: dir, env })).code).toBe(0);
    expect((await runPod(["run", "more"], { cwd: dir, env })).code).toBe(0);
  });

  it("pod new on a pod that never ran creates exactly one session", async () => {
    const dir = await makeProject(manifest({ scope: false }));
    const r = await runPod(["new"], { cwd: dir, env: podEnv(undefined) });
    expect(r.code).toBe(0);
    const files = await sessionFiles(dir);
    expect(files).toHaveLength(1);
    expect(`${(await readStatusFile(dir)).session_id}.jsonl`).toBe(files[0]);
  });
});

describe("status.json's session_id is a name, never a path", () => {
  it("`../../x` is refused by readers and repaired by a run; the file it points to is never read", async () => {
    const { dir, env } = await ranOnce([text("one"), text("two")]);
    // A valid session file where sessions/../../x.jsonl leads, holding a secret.
    const outside = path.join(dir, ".pod", "x.jsonl");
    await writeFile(
      outside,
      [
        JSON.stringify({ kind: "session", id: "x", created_at: new Date().toISOString() }),
        JSON.stringify({ kind: "message", turn: 0, ts: new Date().toISOString(), message: { role: "user", content: [{ type: "text", text: "SECRET-OUTSIDE" }] } }),
        "",
      ].join("\n"),
    );
    const statusFile = path.join(podDir(dir), "status.json");
    const status = await readStatusFile(dir);
    await writeFile(statusFile, JSON.stringify({ ...status, session_id: "../../x" }));

    for (const cmd of ["status", "history", "sessions"]) {
      const r = await runPod([cmd], { cwd: dir, env });
      expect(r.stdout).not.toContain("SECRET-OUTSIDE");
      expect({ cmd, code: r.code }).toEqual({ cmd, code: 1 });
      expect(r.events[0]).toMatchObject({ type: "error", code: "internal" });
      expect(r.events[0].message).toMatch(/status\.json does not look like a pod status \(session_id: not a session id\)/);
    }
    const before = await readFile(outside, "utf8");
    const r = await runPod(["run", "again"], { cwd: dir, env });
    expect(r.code).toBe(0);
    expect(ofType(r.events, "state_repaired")[0].message).toMatch(/damaged/);
    expect(r.stdout).not.toContain("SECRET-OUTSIDE");
    expect(await readFile(outside, "utf8")).toBe(before);
    expect((await readStatusFile(dir)).session_id).toBe(status.session_id);
  });

  it("history --session: an unknown or malformed id is not_found, exit 2", async () => {
    const { dir, env } = await ranOnce([text("one")]);
    for (const id of ["nope", "../../x", "20990101T000000Z-abcdef"]) {
      const r = await runPod(["history", "--session", id], { cwd: dir, env });
      expect({ id, code: r.code }).toEqual({ id, code: 2 });
      expect(r.events[0]).toMatchObject({ type: "error", code: "not_found" });
      expect(r.events[0].message).toMatch(/pod sessions/);
    }
  });
});

/**
 * Runs pod so that file modes apply to it: as nobody when the tests run as root (root
 * ignores them), else as the user running the tests (whose own modes apply to it).
 */
function runUnprivileged(args: string[], cwd: string, env: Record<string, string | undefined>): Promise<PodResult> {
  const asNobody = process.getuid?.() === 0 ? { uid: 65534, gid: 65534 } : {};
  const child = spawn(process.execPath, [POD_BIN, ...args], { cwd, env: env as NodeJS.ProcessEnv, stdio: ["pipe", "pipe", "pipe"], ...asNobody });
  child.stdin!.end();
  return collect(child, args);
}

describe("state errors have their documented exit codes", () => {
  it("a pod directory that is not writable: exit 2 invalid_input naming the directory and the fix, nothing changed", async () => {
    const { dir, env } = await ranOnce([text("one")]);
    // The project must be reachable by the unprivileged user; only the pod dir is read-only.
    await chmod(dir, 0o755);
    await chmod(path.join(dir, ".pod"), 0o755);
    for (const f of ["status.json", "manifest.toml", "lock.owner"]) await chmod(path.join(podDir(dir), f), 0o644).catch(() => {});
    await chmod(sessionsDir(dir), 0o555);
    for (const f of await readdir(sessionsDir(dir))) await chmod(path.join(sessionsDir(dir), f), 0o444);
    await chmod(podDir(dir), 0o555);
    const before = await readFile(path.join(podDir(dir), "status.json"), "utf8");
    try {
      for (const cmd of [["run", "hi"], ["new"]]) {
        const r = await runUnprivileged(cmd, dir, env);
        expect({ cmd, code: r.code }).toEqual({ cmd, code: 2 });
        expect(r.events).toHaveLength(1);
        expect(r.events[0]).toMatchObject({ type: "error", code: "invalid_input" });
        expect(r.events[0].message).toContain(podDir(dir));
        expect(r.events[0].message).toMatch(/EACCES.*fix: make the runtime directory writable/);
        // stdout is a pipe: the same error, plainly, on stderr for the CI log.
        expect(r.stderr).toContain(`pod: ${r.events[0].message}`);
      }
      expect(await readFile(path.join(podDir(dir), "status.json"), "utf8")).toBe(before);
    } finally {
      await chmod(podDir(dir), 0o755);
      await chmod(sessionsDir(dir), 0o755);
    }
  });

  it("status.json that cannot be read: exit 2 invalid_input naming the file", async () => {
    const { dir, env } = await ranOnce([text("one")]);
    await chmod(dir, 0o755);
    await chmod(path.join(dir, ".pod"), 0o755);
    await chmod(podDir(dir), 0o755);
    // Unreadable by anyone but root; when the tests run as root, pod runs as nobody (runUnprivileged).
    await chmod(path.join(podDir(dir), "status.json"), 0o000);
    const r = await runUnprivileged(["status"], dir, env);
    expect(r.code).toBe(2);
    expect(r.events[0]).toMatchObject({ type: "error", code: "invalid_input" });
    expect(r.events[0].message).toMatch(/cannot read .*status\.json: EACCES/);
  });

  it("lock directory that something wrote into: exit 2 naming it and how to clear it", async () => {
    const { dir, env } = await ranOnce([text("one")]);
    const lock = path.join(podDir(dir), "lock");
    await mkdir(lock);
    await writeFile(path.join(lock, "junk"), "x");
    // No live owner: the owner record names the finished first run; the lock is older than the dead-owner grace.
    const old = new Date(Date.now() - 60_000);
    await utimes(lock, old, old);
    const r = await runPod(["run", "again"], { cwd: dir, env });
    expect(r.code).toBe(2);
    expect(r.events[0]).toMatchObject({ type: "error", code: "invalid_input" });
    expect(r.events[0].message).toContain(lock);
    expect(r.events[0].message).toMatch(/rm -r/);
    await rm(lock, { recursive: true });
  });
});

describe("a retried prompt is stored once", () => {
  it("pod run after a request that failed before any answer does not store the same prompt twice", async () => {
    // The first request gets a permanent 400 (no retry); the same turn then answers the second.
    server = await startFakeServer({ turns: [{ ...text("answered"), fault: { kind: "http", status: 400, times: 1 } }] });
    const dir = await makeProject(manifest({ scope: false }));
    const env = podEnv(server.url);
    const failed = await runPod(["run", "do it"], { cwd: dir, env });
    expect(failed.code).toBe(1);
    const retried = await runPod(["run", "do it"], { cwd: dir, env });
    expect(retried.code).toBe(0);
    const history = await runPod(["history"], { cwd: dir, env });
    expect(history.events.map((m) => [m.role, m.content[0].text])).toEqual([
      ["user", "do it"],
      ["assistant", "answered"],
    ]);
    expect(server.requests).toHaveLength(2);
  });
});
