// MCP stdio servers run confined (issue 21 item 2; issue 23 item 4's process half):
// their own PID namespace and /proc, only their `env`, their `[mcp.*] network`; the whole
// tree is killed at close, so a server behind a wrapper that ignores stdin and SIGTERM
// neither outlives pod nor holds `pod run 2>&1 | tee log` open; a server that dies at start
// is reported with its stderr's last lines. Before this change servers ran unconfined
// through the SDK's StdioClientTransport (pod's stderr inherited, only the direct child
// killed, 2 s + 2 s of grace) and a crash at start said only "Connection closed".
import { spawn } from "node:child_process";
import { mkdtempSync, readFileSync, writeFileSync } from "node:fs";
import path from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import { startFakeServer, type FakeServer } from "../fake-server/server.js";
import { mcpFixtureRead, MCP_FIXTURE, stdioServer } from "../helpers/mcp-fixture.js";
import { makeProject, manifest, ofType, POD_BIN, podEnv, runPod, TEST_API_KEY } from "../helpers/pod-process.js";
import { processesWith } from "./processes.js";

const usage = { input_tokens: 10, output_tokens: 5, cache_read_input_tokens: 0, cache_creation_input_tokens: 0 };
const call = (id: string, name: string, input: object = {}) => ({ type: "tool_use", id, name, input });
const toolTurn = (blocks: object[]) => ({ response: { content: blocks, stop_reason: "tool_use", usage } });
const text = (t = "done") => ({ response: { content: [{ type: "text", text: t }], stop_reason: "end_turn", usage } });

let server: FakeServer | undefined;
afterEach(async () => {
  await server?.close();
  server = undefined;
});

/** A run whose server must have started confined: an attack that "leaks nothing" because the server never ran proves nothing. */
function started(r: { events: any[]; stderr: string }) {
  const errors = ofType(r.events, "error");
  expect(errors, `the MCP server must start (in bubblewrap): ${JSON.stringify(errors)}\n${r.stderr}`).toEqual([]);
}

describe("an MCP stdio server cannot reach the provider credential", () => {
  it("reading /proc/$PPID/environ, every ancestor's and every process's: no key; its own environment is only its `env`", async () => {
    const dir = await makeProject(manifest({ extra: stdioServer("fx", 'env = { FIXTURE_TOKEN = "$MY_TOKEN" }\nrequired = true') }));
    const spyFile = path.join(dir, "spy.txt");
    server = await startFakeServer({ turns: [toolTurn([call("s1", "mcp__fx__spy", { path: spyFile })]), text()] });
    const r = await runPod(["run", "go"], { cwd: dir, env: podEnv(server.url, { MY_TOKEN: "token-for-the-server", OTHER_SECRET: "never-given-value" }) });
    expect(r.code, r.stderr).toBe(0);
    started(r);
    expect(ofType(r.events, "tool_result")[0]).toMatchObject({ is_error: false });
    const seen = readFileSync(spyFile, "utf8");
    expect(seen).toContain("token-for-the-server");
    expect(seen).not.toContain(TEST_API_KEY);
    expect(seen).not.toContain("never-given-value");
    // Its own PID namespace: a handful of processes, none of them pod.
    const pids = seen.split("\n").filter((l) => l.startsWith("pid ")).length;
    expect(pids).toBeLessThan(10);
  });

  it("network = false: no connection out; the default (true) reaches the host", async () => {
    const target = await startFakeServer({ turns: [] });
    const port = Number(new URL(target.url).port);
    try {
      for (const [net, want] of [["network = false", /^ERROR/], ["", /^CONNECTED$/]] as const) {
        server = await startFakeServer({ turns: [toolTurn([call("c1", "mcp__fx__connect", { host: "127.0.0.1", port })]), text()] });
        const dir = await makeProject(manifest({ extra: stdioServer("fx", `${net}\nrequired = true`) }));
        const r = await runPod(["run", "go"], { cwd: dir, env: podEnv(server.url) });
        expect(r.code, r.stderr).toBe(0);
        started(r);
        expect(ofType(r.events, "tool_result")[0].output, net || "network = true").toMatch(want);
        await server.close();
        server = undefined;
      }
    } finally {
      await target.close();
    }
  });
});

describe("an MCP server's whole tree ends with pod", () => {
  it("a server behind `sh -c \"trap '' TERM; node server.mjs\"` that outlives its stdin: pod exits within 1 s after run_end, `2>&1 | tee` returns, nothing is left", async () => {
    const marker = `--stubborn=${Math.floor(Math.random() * 1e9)}`;
    server = await startFakeServer({ turns: [toolTurn([call("e1", "mcp__slow__echo", { text: "hi" })]), text()] });
    const wrapper = `trap '' TERM; ${JSON.stringify(process.execPath)} ${JSON.stringify(MCP_FIXTURE)} ${marker}`;
    const entry = `\n[mcp.slow]\ncommand = ["sh", "-c", ${JSON.stringify(wrapper)}]\nread = ${JSON.stringify(mcpFixtureRead())}\nrequired = true\n`;
    const dir = await makeProject(manifest({ extra: entry }));
    const log = path.join(dir, "log.txt");
    // What CI does: pod's stdout and stderr into one pipe, through tee.
    const child = spawn("sh", ["-c", `${JSON.stringify(process.execPath)} ${JSON.stringify(POD_BIN)} run go 2>&1 | tee ${JSON.stringify(log)}`], { cwd: dir, env: podEnv(server.url) as NodeJS.ProcessEnv, stdio: ["ignore", "pipe", "pipe"] });
    let out = "";
    let runEndAt: number | undefined;
    child.stdout.setEncoding("utf8").on("data", (d: string) => {
      out += d;
      if (runEndAt === undefined && /"type":"run_end"/.test(out)) runEndAt = Date.now();
    });
    const guard = setTimeout(() => child.kill("SIGKILL"), 30_000);
    const code = await new Promise<number | null>((resolve) => child.on("close", (c) => resolve(c)));
    const closedAt = Date.now();
    clearTimeout(guard);
    expect(code, out).toBe(0);
    expect(out).toContain('"output":"stubborn echo: hi"');
    expect(runEndAt, "run_end was printed").toBeDefined();
    expect(closedAt - runEndAt!, "from run_end to the pipeline's end").toBeLessThan(1000);
    await new Promise((res) => setTimeout(res, 100));
    expect(processesWith(marker)).toEqual([]);
  });

  it("a server that does not start within startup_timeout_s: reported, and its whole tree is gone when pod exits", async () => {
    const marker = `marker-${Math.floor(Math.random() * 1e9)}`;
    server = await startFakeServer({ turns: [text()] });
    const dir = await makeProject(manifest({ extra: stdioServer("slow", "startup_timeout_s = 1", ["--hang", marker]) }));
    const r = await runPod(["run", "go"], { cwd: dir, env: podEnv(server.url) });
    expect(r.code, r.stderr).toBe(0);
    expect(ofType(r.events, "error")[0].message).toMatch(/"slow" failed to start: did not start within 1s \(startup_timeout_s\)/);
    expect(processesWith(marker)).toEqual([]);
  });

  it("a server that exits at once is reported with its stderr's last lines, not only \"Connection closed\"", async () => {
    server = await startFakeServer({ turns: [text()] });
    const crash = "echo 'loading config' >&2; echo 'fatal: no token in /etc/mcp/config.json' >&2; exit 3";
    const dir = await makeProject(manifest({ extra: `\n[mcp.crash]\ncommand = ["sh", "-c", ${JSON.stringify(crash)}]\n` }));
    const r = await runPod(["run", "go"], { cwd: dir, env: podEnv(server.url) });
    expect(r.code, r.stderr).toBe(0);
    const error = ofType(r.events, "error")[0];
    expect(error.code).toBe("tool_error");
    expect(error.message).toMatch(/^MCP server "crash" failed to start: /);
    expect(error.message).not.toMatch(/sandbox_unavailable/);
    expect(error.message).toContain("exited with code 3");
    expect(error.message).toContain("fatal: no token in /etc/mcp/config.json");
    // Its stderr still went to pod's stderr, never to stdout.
    expect(r.stderr).toContain("fatal: no token");
    expect(r.stdout.split("\n").filter((l) => l.startsWith("fatal"))).toEqual([]);
  });

  it("a server whose script is outside the sandbox's view: the error names the `read` entry that shows it", async () => {
    server = await startFakeServer({ turns: [text()] });
    const dir = await makeProject(manifest({ extra: `\n[mcp.hidden]\ncommand = [${JSON.stringify(process.execPath)}, ${JSON.stringify(MCP_FIXTURE)}]\n` }));
    const r = await runPod(["run", "go"], { cwd: dir, env: podEnv(server.url) });
    const error = ofType(r.events, "error")[0];
    expect(error.message).toContain(`Error: Cannot find module '${MCP_FIXTURE}'`);
    expect(error.message).not.toMatch(/^\s+at /m);
    expect(error.message).toContain(`${MCP_FIXTURE} is outside the sandbox's view; add [mcp.hidden] read = ["`);
  });

  it("a server whose script is in the host's /tmp (a checkout there): hidden by the sandbox's private /tmp, and named so", async () => {
    server = await startFakeServer({ turns: [text()] });
    const outside = mkdtempSync(path.join("/tmp", "pod-mcp-script-"));
    const script = path.join(outside, "server.mjs");
    writeFileSync(script, "console.log('never runs');\n");
    const dir = await makeProject(manifest({ extra: `\n[mcp.hidden]\ncommand = [${JSON.stringify(process.execPath)}, ${JSON.stringify(script)}]\n` }));
    const r = await runPod(["run", "go"], { cwd: dir, env: podEnv(server.url) });
    const error = ofType(r.events, "error")[0];
    expect(error.message).toContain(`Cannot find module '${script}'`);
    expect(error.message).toContain(`${script} is outside the sandbox's view; add [mcp.hidden] read = ["`);
  });
});

describe("where no sandbox can start, a stdio server fails closed", () => {
  it("sandbox_unavailable (the run goes on without it, or is refused when required); sandbox = \"off\" starts it", async () => {
    const noBwrap = { POD_BWRAP: "/nonexistent/bwrap" };
    server = await startFakeServer({ turns: [text()] });
    const dir = await makeProject(manifest({ extra: stdioServer("fx") }));
    const r = await runPod(["run", "go"], { cwd: dir, env: podEnv(server.url, noBwrap) });
    expect(r.code).toBe(0);
    const error = ofType(r.events, "error")[0];
    expect(error).toMatchObject({ code: "sandbox_unavailable" });
    expect(error.message).toMatch(/^MCP server "fx" failed to start: MCP server "fx" runs only inside an OS sandbox, and bubblewrap \(bwrap\) is not installed/);
    expect(error.message).toContain('set sandbox = "off" in its [mcp.fx]');

    const required = await makeProject(manifest({ extra: stdioServer("fx", "required = true") }));
    const r2 = await runPod(["run", "go"], { cwd: required, env: podEnv(server.url, noBwrap) });
    expect(r2.code).toBe(1);
    expect(r2.events).toHaveLength(1);
    expect(r2.events[0]).toMatchObject({ type: "error", code: "sandbox_unavailable" });

    await server.close();
    server = await startFakeServer({ turns: [toolTurn([call("e1", "mcp__fx__echo", { text: "unconfined" })]), text()] });
    const off = await makeProject(manifest({ extra: stdioServer("fx", 'sandbox = "off"\nrequired = true') }));
    const r3 = await runPod(["run", "go"], { cwd: off, env: podEnv(server.url, noBwrap) });
    expect(r3.code, r3.stderr).toBe(0);
    expect(ofType(r3.events, "tool_result")[0]).toMatchObject({ is_error: false, output: "stdio echo: unconfined" });
  });
});
