import { readdir, readFile } from "node:fs/promises";
import path from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import { startFakeServer, type FakeServer } from "../fake-server/server.js";
import { makeProject, manifest, ofType, podEnv, runPod, TEST_API_KEY } from "../helpers/pod-process.js";
import { textTurn } from "../helpers/turns.js";

/**
 * Secrets never leave through pod (SPEC "Containment", issue 21 item 3). Once a value
 * leaks by any path — a file a tool reads, a hook that prints it, the model repeating
 * it — pod replaces it with [redacted] in every event, session line, request body, hook
 * input and -o file. Before the Redactor only provider error messages were redacted:
 * this test found the key and the token on stdout, in the session and in the request.
 */
const usage = { input_tokens: 10, output_tokens: 5, cache_read_input_tokens: 0, cache_creation_input_tokens: 0 };
const GITHUB_TOKEN = "ghs_FAKEgithubTOKEN0123456789abcdefXYZ";
const DEPLOY_KEY = "deploy-key-7f3a9c1e5b";

let server: FakeServer | undefined;
afterEach(async () => {
  await server?.close();
  server = undefined;
});

const MANIFEST = [
  "[pod]",
  'name = "tester"',
  'model = "claude-sonnet-5-5"',
  'system_prompt = "You fix code."',
  "",
  "[scope]",
  'root = "."',
  "",
  "[[hooks.post_tool_use]]",
  'matcher = "Read"',
  // The hook keeps its input (what pod sent it) and echoes the leaked file back on stderr, blocking.
  'command = "cat > hook-input.json; cat config/settings.txt >&2; exit 2"',
  "",
].join("\n");

async function sessionText(dir: string): Promise<string> {
  const sessions = path.join(dir, ".pod/tester/sessions");
  const files = (await readdir(sessions)).filter((f) => f.endsWith(".jsonl"));
  return (await Promise.all(files.map((f) => readFile(path.join(sessions, f), "utf8")))).join("");
}

describe("a leaked secret is [redacted] everywhere pod writes or sends it", () => {
  it("the provider key and a CI token, read by a tool, echoed by a hook, repeated by the model", async () => {
    server = await startFakeServer({
      turns: [
        { response: { content: [{ type: "tool_use", id: "r1", name: "Read", input: { path: "config/settings.txt" } }], stop_reason: "tool_use", usage } },
        {
          expect: { tool_result_for: "r1" },
          // One text delta: a secret split across deltas is not matched per delta (docs/security.md).
          response: { content: [{ type: "text", text: `Found ${TEST_API_KEY} and ${GITHUB_TOKEN}.` }], stop_reason: "end_turn", usage },
          delivery: { text_split: 10_000, chunk_bytes: 100_000, delay_ms: 0, ping_every: 0 },
        },
        { response: { content: [{ type: "text", text: "ok" }], stop_reason: "end_turn", usage } },
      ],
    });
    const dir = await makeProject(MANIFEST, { "config/settings.txt": `anthropic=${TEST_API_KEY}\ngithub=${GITHUB_TOKEN}\n` });
    const env = podEnv(server.url, { GITHUB_TOKEN });
    const r = await runPod(["run", "-o", "answer.md", "find the keys"], { cwd: dir, env });
    expect(r.code, r.stderr).toBe(0);

    const leaks = (where: string, text: string) => {
      expect(text, `${where} holds the API key`).not.toContain(TEST_API_KEY);
      expect(text, `${where} holds GITHUB_TOKEN`).not.toContain(GITHUB_TOKEN);
      expect(text, `${where} has no [redacted] marker`).toContain("[redacted]");
    };
    leaks("stdout", r.stdout);
    leaks("the tool_result event", JSON.stringify(ofType(r.events, "tool_result")));
    leaks("the hook event", JSON.stringify(ofType(r.events, "hook")));
    leaks("text_done", JSON.stringify(ofType(r.events, "text_done")));
    leaks("the session file", await sessionText(dir));
    leaks("the hook's stdin", await readFile(path.join(dir, "hook-input.json"), "utf8"));
    leaks("the -o file", await readFile(path.join(dir, "answer.md"), "utf8"));
    leaks("the second request", JSON.stringify(server.requests[1]!.body));

    // The next run's request carries the stored history: redacted too.
    const next = await runPod(["run", "again"], { cwd: dir, env });
    expect(next.code, next.stderr).toBe(0);
    leaks("the next run's request", JSON.stringify(server.requests[2]!.body.messages));
  });

  it("[pod] secrets names the variables; a value shorter than 8 characters is never redacted", async () => {
    server = await startFakeServer({
      turns: [{ response: { content: [{ type: "text", text: `key ${DEPLOY_KEY}, pin 1234, token ${GITHUB_TOKEN}` }], stop_reason: "end_turn", usage } }],
    });
    const dir = await makeProject(['[pod]', 'name = "tester"', 'system_prompt = "x"', 'secrets = ["DEPLOY_KEY", "SHORT_PIN"]', ""].join("\n"));
    const r = await runPod(["run", "go"], { cwd: dir, env: podEnv(server.url, { DEPLOY_KEY, SHORT_PIN: "1234", GITHUB_TOKEN }) });
    expect(r.code, r.stderr).toBe(0);
    const done = ofType(r.events, "text_done")[0].text;
    expect(done).toContain("key [redacted]");
    expect(done).toContain("pin 1234");
    // The list replaces the default names: GITHUB_TOKEN is not in it.
    expect(done).toContain(GITHUB_TOKEN);
  });

  it("a call waiting for approval is stored in status.json with its input redacted", async () => {
    server = await startFakeServer({
      turns: [{ response: { content: [{ type: "tool_use", id: "w1", name: "Write", input: { path: ".npmrc", content: `//registry/:_authToken=${GITHUB_TOKEN}\n` } }], stop_reason: "tool_use", usage } }],
    });
    const dir = await makeProject(['[pod]', 'name = "tester"', 'system_prompt = "x"', "", "[scope]", 'root = "."', "", "[tools]", 'ask = ["Write"]', ""].join("\n"));
    const r = await runPod(["run", "write it"], { cwd: dir, env: podEnv(server.url, { GITHUB_TOKEN }) });
    expect(r.code, r.stderr).toBe(10);
    const status = await readFile(path.join(dir, ".pod/tester/status.json"), "utf8");
    expect(JSON.parse(status).pending.id).toBe("w1");
    expect(status).not.toContain(GITHUB_TOKEN);
    expect(status).toContain("[redacted]");
    expect(r.stdout).not.toContain(GITHUB_TOKEN);
  });
});

async function allFiles(dir: string): Promise<string[]> {
  const out: string[] = [];
  for (const e of await readdir(dir, { withFileTypes: true })) {
    const p = path.join(dir, e.name);
    if (e.isDirectory()) out.push(...(await allFiles(p)));
    else out.push(p);
  }
  return out;
}

describe("the API key itself", () => {
  // Moved from e2e/reliability.test.ts (split by behaviour).
  it("the API key appears in no output, log or runtime file, even when the provider echoes it", async () => {
    server = await startFakeServer({
      turns: [
        textTurn("fine"),
        { ...textTurn("never"), fault: { kind: "http", status: 401, times: 5, message: `invalid x-api-key: ${TEST_API_KEY}` } },
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
