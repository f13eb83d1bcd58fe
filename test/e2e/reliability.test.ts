import { execFileSync } from "node:child_process";
import { existsSync } from "node:fs";
import { appendFile, mkdir, mkdtemp, readdir, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import path from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import { startFakeServer, type FakeServer } from "../fake-server/server.js";
import { apiHistoryProblems } from "../helpers/api-history.js";
import { collect, makeProject, manifest, ofType, podEnv, runPod, spawnPod, TEST_API_KEY } from "../helpers/pod-process.js";

let server: FakeServer | undefined;
afterEach(async () => {
  await server?.close();
  server = undefined;
});

const usage = { input_tokens: 10, output_tokens: 5, cache_read_input_tokens: 0, cache_creation_input_tokens: 0 };
const text = (t: string, delivery?: object) => ({ response: { content: [{ type: "text", text: t }], stop_reason: "end_turn", usage }, ...(delivery ? { delivery } : {}) });
const podDir = (dir: string) => path.join(dir, ".pod/tester");

async function allFiles(dir: string): Promise<string[]> {
  const out: string[] = [];
  for (const e of await readdir(dir, { withFileTypes: true })) {
    const p = path.join(dir, e.name);
    if (e.isDirectory()) out.push(...(await allFiles(p)));
    else out.push(p);
  }
  return out;
}

describe("concurrency", () => {
  it("8 runs started at once: exactly one runs, 7 exit 3 with already_running", async () => {
    // The winner's run lasts ~1.5 s, longer than the spread of 8 node start-ups on 2 cores:
    // a racer that starts after it has finished would rightly run next, which is not this test.
    server = await startFakeServer({ turns: [text("only one of us runs", { text_split: 3, delay_ms: 500, chunk_bytes: 40 })] });
    const dir = await makeProject(manifest({ scope: false }));
    // Create the pod first so all 8 race for the lock, not for the first mkdir.
    const env = podEnv(server.url);
    const children = Array.from({ length: 8 }, (_, i) => collect(spawnPod(["run", `racer ${i}`], { cwd: dir, env }), ["run"]));
    const results = await Promise.all(children);
    const codes = results.map((r) => r.code).sort();
    expect(codes).toEqual([0, 3, 3, 3, 3, 3, 3, 3]);
    for (const r of results.filter((r) => r.code === 3)) {
      expect(r.events).toEqual([expect.objectContaining({ type: "error", code: "already_running" })]);
    }
    expect(server.requests).toHaveLength(1);
    const history = await runPod(["history"], { cwd: dir, env });
    expect(history.events.map((m) => m.role)).toEqual(["user", "assistant"]);
  });

  it("pod status and pod history work while a run holds the lock", async () => {
    server = await startFakeServer({ turns: [text("slow ".repeat(100), { text_split: 5, delay_ms: 20, chunk_bytes: 30 })] });
    const dir = await makeProject(manifest({ scope: false }));
    const env = podEnv(server.url);
    const child = spawnPod(["run", "take your time"], { cwd: dir, env });
    const done = collect(child, ["run"]);
    await new Promise<void>((resolve) => child.stdout!.on("data", (d: Buffer) => d.toString().includes("text_delta") && resolve()));
    const status = await runPod(["status"], { cwd: dir, env });
    expect(status.code).toBe(0);
    expect(status.events[0]).toMatchObject({ status: "running", pid: child.pid });
    const history = await runPod(["history"], { cwd: dir, env });
    expect(history.code).toBe(0);
    expect(history.events[0].content[0].text).toBe("take your time");
    expect((await done).code).toBe(0);
  });
});

describe("a reader that goes away", () => {
  it("`pod run | head -1`: the run finishes and saves everything after stdout closes", async () => {
    const long = "word ".repeat(20_000);
    server = await startFakeServer({ turns: [text(long, { text_split: 5, chunk_bytes: 512 })] });
    const dir = await makeProject(manifest({ scope: false }));
    const child = spawnPod(["run", "talk a lot"], { cwd: dir, env: podEnv(server.url) });
    let stderr = "";
    child.stderr!.setEncoding("utf8").on("data", (d: string) => (stderr += d));
    // Read the first line, then close the pipe as `head -1` does.
    const first = await new Promise<string>((resolve) => {
      let buf = "";
      child.stdout!.setEncoding("utf8").on("data", (d: string) => {
        buf += d;
        const nl = buf.indexOf("\n");
        if (nl !== -1) {
          child.stdout!.destroy();
          resolve(buf.slice(0, nl));
        }
      });
    });
    expect(JSON.parse(first).type).toBe("run_start");
    const [code, signal] = await new Promise<[number | null, NodeJS.Signals | null]>((resolve) => child.on("exit", (c, s) => resolve([c, s])));
    expect({ code, signal, stderr }).toEqual({ code: 0, signal: null, stderr: "" });
    const status = JSON.parse(await readFile(path.join(podDir(dir), "status.json"), "utf8"));
    expect(status).toMatchObject({ status: "idle", last_result: "finished", turn: 1 });
    const history = await runPod(["history"], { cwd: dir, env: podEnv(undefined) });
    expect(history.events.at(-1)).toMatchObject({ role: "assistant", content: [{ type: "text", text: long }] });
  });
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
      const { dir, env } = await pod([text("one"), text("two")]);
      const file = path.join(podDir(dir), "status.json");
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
      const backups = (await readdir(podDir(dir))).filter((n) => n.startsWith("status.json.corrupt-"));
      expect(backups).toHaveLength(1);
      expect(await readFile(path.join(podDir(dir), backups[0]!), "utf8")).toBe(damaged);
      // Same session continues: the model sees the first exchange.
      expect(server!.requests[1]!.body.messages.map((m: any) => m.content[0].text)).toEqual(["first", "one", "second"]);
    });
  }

  it("a torn last line in the session file is ignored, backed up, and cut before appending", async () => {
    const { dir, env } = await pod([text("one"), text("two")]);
    const sessions = path.join(podDir(dir), "sessions");
    const file = path.join(sessions, (await readdir(sessions))[0]!);
    await appendFile(file, '{"kind":"message","turn":2,"ts":"x","message":{"role":"assistant","content":[{"type":"te');
    expect((await runPod(["history"], { cwd: dir, env })).events).toHaveLength(2);
    expect((await runPod(["run", "again"], { cwd: dir, env })).code).toBe(0);
    expect((await readdir(sessions)).some((n) => n.includes(".torn-"))).toBe(true);
    expect((await runPod(["history"], { cwd: dir, env })).events).toHaveLength(4);
  });

  it("a damaged line in the middle of a session is refused with the file and line, and nothing is changed", async () => {
    const { dir, env } = await pod([text("one")]);
    const sessions = path.join(podDir(dir), "sessions");
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
    const { dir, env } = await pod([text("one"), text("two")]);
    await writeFile(path.join(dir, "pod.toml"), manifest({ scope: false }).replace("max_turns = 10", "max_turns = 7"));
    const r = await runPod(["run", "again"], { cwd: dir, env });
    expect(r.code).toBe(0);
    expect(r.stderr).toMatch(/changed since the last run/);
    expect(await readFile(path.join(podDir(dir), "manifest.toml.prev"), "utf8")).toMatch(/max_turns = 10/);
    expect(await readFile(path.join(podDir(dir), "manifest.toml"), "utf8")).toMatch(/max_turns = 7/);
  });

  it("a runtime directory that cannot be created is a clear usage error", async () => {
    const dir = await makeProject(manifest({ scope: false }), { "blocker": "a file, not a directory" });
    const r = await runPod(["run", "hi", "--runtime-dir", "blocker/rt"], { cwd: dir, env: podEnv("http://127.0.0.1:9") });
    expect(r.code).toBe(2);
    expect(r.events[0].message).toMatch(/cannot create the runtime directory .*blocker\/rt\/tester \(ENOTDIR\).*--runtime-dir/);
  });

  it("a full disk (ENOSPC on a small tmpfs) ends the run with a clear error and loses no completed turn", async (ctx) => {
    const mnt = await mkdtemp(path.join(tmpdir(), "pod-full-"));
    try {
      execFileSync("mount", ["-t", "tmpfs", "-o", "size=256k", "tmpfs", mnt], { stdio: "ignore" });
    } catch {
      ctx.skip(); // needs root to mount a tmpfs; CI here runs as root
    }
    try {
      server = await startFakeServer({ turns: [text("small first answer"), text("x".repeat(400_000)), text("after space was freed")] });
      const dir = await makeProject(manifest({ scope: false }));
      const env = podEnv(server.url, { POD_RUNTIME_DIR: mnt });
      expect((await runPod(["run", "first"], { cwd: dir, env })).code).toBe(0);
      const r = await runPod(["run", "say a lot"], { cwd: dir, env });
      expect(r.code).toBe(1);
      const err = ofType(r.events, "error")[0];
      // The response is recorded (runs/<id>/records.jsonl) just before it is stored in the session: either write meets the full disk first.
      expect(err.message).toMatch(/cannot write .*(sessions\/.*\.jsonl|runs\/.*\/records\.jsonl) \(ENOSPC: no space left on device\).*free disk space/);
      expect(r.events.at(-1)).toMatchObject({ type: "run_end", result: "error" });
      // Nothing completed was lost, and once there is room the pod carries on.
      execFileSync("mount", ["-o", "remount,size=4m", mnt]);
      const history = await runPod(["history"], { cwd: dir, env });
      expect(history.events.slice(0, 3).map((m) => m.content[0].text)).toEqual(["first", "small first answer", "say a lot"]);
      let next = await runPod(["resume"], { cwd: dir, env });
      if (next.code === 3) next = await runPod(["run", "go on"], { cwd: dir, env });
      expect(next.code).toBe(0);
      expect(apiHistoryProblems(server.requests.at(-1)!.body.messages)).toEqual([]);
    } finally {
      execFileSync("umount", [mnt]);
      await rm(mnt, { recursive: true, force: true });
    }
  });
});

describe("bad input", () => {
  it("rejects a multi-MB prompt and invalid UTF-8 on stdin; accepts a prompt on stdin", async () => {
    server = await startFakeServer({ turns: [text("got it from stdin")] });
    const dir = await makeProject(manifest({ scope: false }));
    const env = podEnv(server.url);
    const big = await runPod(["run", "-"], { cwd: dir, env, stdin: "x".repeat(3 * 1024 * 1024) });
    expect(big.code).toBe(2);
    expect(big.events[0]).toMatchObject({ type: "error", code: "invalid_input" });
    expect(big.events[0].message).toMatch(/more than the 1048576-byte limit|more than 1048576 bytes/);
    const bad = await runPod(["run", "-"], { cwd: dir, env, stdin: Buffer.from([0x66, 0x69, 0x78, 0xff, 0xfe, 0x20]) });
    expect(bad.code).toBe(2);
    expect(bad.events[0].message).toMatch(/not valid UTF-8/);
    expect(existsSync(podDir(dir))).toBe(false);
    const ok = await runPod(["run", "-"], { cwd: dir, env, stdin: "fix it from stdin\n" });
    expect(ok.code).toBe(0);
    expect(ok.events[0]).toMatchObject({ type: "run_start", input: "fix it from stdin\n" });
  });
});

describe("secrets", () => {
  it("the API key appears in no output, log or runtime file, even when the provider echoes it", async () => {
    server = await startFakeServer({
      turns: [
        text("fine"),
        { ...text("never"), fault: { kind: "http", status: 401, times: 5, message: `invalid x-api-key: ${TEST_API_KEY}` } },
      ],
    });
    const dir = await makeProject(manifest({ extra: '\n[tools.bash]\nenabled = true\nallow = ["env"]\n' }));
    const env = podEnv(server.url);
    const first = await runPod(["run", "hello"], { cwd: dir, env });
    const second = await runPod(["run", "again"], { cwd: dir, env });
    expect(second.code).toBe(1);
    expect(ofType(second.events, "error")[0].message).toMatch(/invalid x-api-key: \[redacted\]/);
    const outputs = [first.stdout, first.stderr, second.stdout, second.stderr];
    for (const cmd of [["status"], ["history", "--full"], ["sessions"]]) {
      const r = await runPod(cmd, { cwd: dir, env });
      outputs.push(r.stdout, r.stderr);
    }
    for (const o of outputs) expect(o).not.toContain(TEST_API_KEY);
    for (const f of await allFiles(path.join(dir, ".pod"))) {
      expect(await readFile(f, "utf8"), f).not.toContain(TEST_API_KEY);
    }
  });
});
