import { spawn, spawnSync } from "node:child_process";
import path from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import { startFakeServer, type FakeServer } from "../fake-server/server.js";
import { makeProject, manifest, POD_BIN, podEnv, runPod } from "../helpers/pod-process.js";

/**
 * A report is read by more people than the job's log (a step summary, a dashboard): a secret
 * the model repeated — in its answer, a tool's input, the prompt — must not reach it. The
 * report reads only the recording, which pod writes redacted; checked here with `pod report`
 * run where the secret is NOT in the environment (as after `pod import` on a laptop), so
 * nothing but the recording could have hidden it.
 */
const usage = { input_tokens: 10, output_tokens: 5, cache_read_input_tokens: 0, cache_creation_input_tokens: 0 };
const GITHUB_TOKEN = "ghs_FAKEgithubTOKEN0123456789abcdefXYZ";

let server: FakeServer | undefined;
afterEach(async () => {
  await server?.close();
  server = undefined;
});

function podReport(args: string[], cwd: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [POD_BIN, "report", ...args], { cwd, env: podEnv(undefined) as NodeJS.ProcessEnv, stdio: ["ignore", "pipe", "pipe"] });
    let out = "";
    child.stdout.setEncoding("utf8").on("data", (d: string) => (out += d));
    child.on("error", reject);
    child.on("close", (code) => (code === 0 ? resolve(out) : reject(new Error(`pod report exited ${code}: ${out}`))));
  });
}

describe("a secret in pod report", () => {
  it("a secret in the prompt, a tool input, a file name and the answer is [redacted] in both formats", async () => {
    server = await startFakeServer({
      turns: [
        { response: { content: [{ type: "tool_use", id: "w1", name: "Write", input: { path: `leak-${GITHUB_TOKEN}.txt`, content: "x\n" } }], stop_reason: "tool_use", usage } },
        { expect: { tool_result_for: "w1" }, response: { content: [{ type: "text", text: `The token is ${GITHUB_TOKEN}.` }], stop_reason: "end_turn", usage } },
      ],
    });
    const dir = await makeProject(manifest(), { "a.txt": "a\n" });
    const r = await runPod(["run", `use ${GITHUB_TOKEN}`], { cwd: dir, env: podEnv(server.url, { GITHUB_TOKEN }) });
    expect(r.code, r.stderr).toBe(0);
    // The recording itself holds no copy, though the model's text streamed it split across pieces.
    const grep = spawnSync("grep", ["-rlF", GITHUB_TOKEN, path.join(dir, ".pod")], { encoding: "utf8" });
    expect(grep.status, grep.stdout).toBe(1); // 1: no file holds it
    const md = await podReport([], dir);
    const json = await podReport(["--format", "json"], dir);
    for (const out of [md, json]) {
      expect(out).not.toContain(GITHUB_TOKEN);
      expect(out).toContain("[redacted]");
    }
    const report = JSON.parse(json);
    expect(report.prompt).toBe("use [redacted]");
    expect(report.answer.text).toBe("The token is [redacted].");
    expect(report.tool_calls[0].summary).toBe("leak-[redacted].txt");
    expect(report.files_changed.files.map((f: any) => f.path)).toEqual(["leak-[redacted].txt"]);
    // And the redacted recording still replays to its end, without the secret in the environment.
    const replay = await runPod(["replay", "--tools", "recorded"], { cwd: dir, env: podEnv(undefined, { ANTHROPIC_API_KEY: undefined, ANTHROPIC_BASE_URL: "http://127.0.0.1:9" }) });
    expect(replay.code, replay.stdout).toBe(0);
  });
});
