import { afterEach, describe, expect, it } from "vitest";
import { startFakeServer, type FakeServer } from "../fake-server/server.js";
import { spawn } from "node:child_process";
import { makeProject, manifest, parseJsonl, POD_BIN, podEnv, readStatus, runPod, spawnPod } from "../helpers/pod-process.js";
import { textTurn } from "../helpers/turns.js";

/** The reader of pod's stdout goes away mid-run (docs/reliability.md, "Sessions"). */
let server: FakeServer | undefined;
afterEach(async () => {
  await server?.close();
  server = undefined;
});

describe("a reader that goes away", () => {
  it("`pod run | head -1`: the run finishes and saves everything after stdout closes", async () => {
    const long = "word ".repeat(20_000);
    server = await startFakeServer({ turns: [textTurn(long, { delivery: { text_split: 5, chunk_bytes: 512 } })] });
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
    const status = await readStatus(dir);
    expect(status).toMatchObject({ status: "idle", last_result: "finished", turn: 1 });
    const history = await runPod(["history"], { cwd: dir, env: podEnv(undefined) });
    expect(history.events.at(-1)).toMatchObject({ role: "assistant", content: [{ type: "text", text: long }] });
  });

  it("a slow reader (`pod run | jq` on a busy runner) gets every line: pod waits for the pipe to take them before it exits", async () => {
    // 1 MB in one text_done line: far more than a pipe holds (64 KiB on Linux).
    const long = "y".repeat(1_000_000);
    server = await startFakeServer({ turns: [textTurn(long, { delivery: { text_split: 65_536, chunk_bytes: 262_144 } })] });
    const dir = await makeProject(manifest({ scope: false }));
    // A real shell pipe, as CI has: the reader sleeps until pod is done, then reads.
    const child = spawn("bash", ["-c", 'set -o pipefail; "$NODE" "$POD" run "talk a lot" | { sleep 2; cat; }'], {
      cwd: dir,
      env: { ...(podEnv(server.url) as NodeJS.ProcessEnv), NODE: process.execPath, POD: POD_BIN },
      stdio: ["ignore", "pipe", "pipe"],
    });
    let out = "";
    let err = "";
    child.stdout!.setEncoding("utf8").on("data", (d: string) => (out += d));
    child.stderr!.setEncoding("utf8").on("data", (d: string) => (err += d));
    expect(await new Promise((resolve) => child.on("close", resolve)), err).toBe(0);
    const events = parseJsonl(out);
    expect(events.find((e: any) => e.type === "text_done")?.text?.length).toBe(long.length);
    expect(events.at(-1)).toMatchObject({ type: "run_end", result: "finished" });
  });
});
