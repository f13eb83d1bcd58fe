// Peak memory (max RSS) of a run that reads a 100 MB file through Read, and of a run
// on a 10k-message session, against `node -e 0` and a text-only run.
import { spawn } from "node:child_process";
import { createWriteStream, existsSync, mkdirSync, mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { once } from "node:events";
import { startFakeServer } from "../test/fake-server/server.ts";
import { writeStatus, freshStatus } from "../src/store/status.ts";
import { makeSession } from "./store.mjs";

const hasTime = existsSync("/usr/bin/time");

/** Max RSS in MB of a child process, via GNU time. Async: the fake server lives in this process. */
async function maxRss(args, opts) {
  const child = spawn("/usr/bin/time", ["-f", "%M", process.execPath, ...args], { stdio: ["ignore", "ignore", "pipe"], ...opts });
  let stderr = "";
  child.stderr.on("data", (d) => (stderr += d));
  const [status] = await once(child, "close");
  const kb = Number(stderr.trim().split("\n").at(-1));
  return { mb: kb / 1024, status };
}

const text = (t) => ({ response: { content: [{ type: "text", text: t }], stop_reason: "end_turn" } });

export async function memoryBench(pod) {
  if (!hasTime) return { rows: [["(GNU time not installed: apt-get install time)", "—", "—"]] };
  const dir = mkdtempSync(path.join(tmpdir(), "pod-bench-mem-"));
  writeFileSync(path.join(dir, "pod.toml"), '[pod]\nname = "mem"\n\n[scope]\nroot = "."\ndeny = [".pod/**"]\n');
  const big = createWriteStream(path.join(dir, "big.txt"));
  const line = "0123456789 ".repeat(9) + "\n";
  for (let written = 0; written < 100 * 2 ** 20; written += line.length) if (!big.write(line)) await once(big, "drain");
  big.end();
  await once(big, "finish");

  const rows = [];
  const baseline = await maxRss(["-e", "0"], {});
  rows.push(["`node -e 0`", baseline.mb.toFixed(0), "—"]);

  let server = await startFakeServer({ turns: [text("hello")] });
  const env = { ...process.env, ANTHROPIC_API_KEY: "bench-key", ANTHROPIC_BASE_URL: server.url };
  const textOnly = await maxRss([pod, "run", "hi"], { cwd: dir, env });
  await server.close();
  rows.push(["text-only run", textOnly.mb.toFixed(0), textOnly.status === 0 ? "ok" : `exit ${textOnly.status}`]);

  server = await startFakeServer({
    turns: [{ response: { content: [{ type: "tool_use", id: "t1", name: "Read", input: { path: "big.txt", limit: 1_000_000 } }], stop_reason: "tool_use" } }, text("read it")],
  });
  const read = await maxRss([pod, "run", "read the big file"], { cwd: dir, env: { ...env, ANTHROPIC_BASE_URL: server.url } });
  const sentBytes = JSON.stringify(server.requests.at(-1)?.body ?? {}).length;
  await server.close();
  rows.push(["run that Reads a 100 MB file", read.mb.toFixed(0), `exit ${read.status}; ${(sentBytes / 1024).toFixed(0)} KB sent back to the model (Read's cap)`]);

  // A pod whose current session already has 10k messages.
  const sdir = mkdtempSync(path.join(tmpdir(), "pod-bench-mem10k-"));
  writeFileSync(path.join(sdir, "pod.toml"), '[pod]\nname = "big"\n');
  const podDir = path.join(sdir, ".pod/big");
  mkdirSync(podDir, { recursive: true });
  const id = await makeSession(path.join(podDir, "sessions"), 10_000);
  await writeStatus(path.join(podDir, "status.json"), { ...freshStatus("big", id), turn: 5000 });
  server = await startFakeServer({ turns: [text("continuing")] });
  const t = performance.now();
  const session = await maxRss([pod, "run", "continue"], { cwd: sdir, env: { ...env, ANTHROPIC_BASE_URL: server.url } });
  const ms = performance.now() - t;
  await server.close();
  rows.push(["run on a 10k-message session", session.mb.toFixed(0), `exit ${session.status}; ${ms.toFixed(0)} ms wall`]);
  return { rows, readMb: read.mb, baselineMb: baseline.mb };
}
