import { afterEach, describe, expect, it } from "vitest";
import { startFakeServer, type FakeServer } from "../fake-server/server.js";
import { makeProject, manifest, podEnv, readStatus, runPod, spawnPod } from "../helpers/pod-process.js";
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
});
