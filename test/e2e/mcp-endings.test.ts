import http from "node:http";
import net, { type AddressInfo } from "node:net";
import { afterEach, describe, expect, it } from "vitest";
import { startFakeServer, type FakeServer } from "../fake-server/server.js";
import { stdioServer } from "../helpers/mcp-fixture.js";
import { makeProject, manifest, ofType, POD_BIN, podEnv, runPod } from "../helpers/pod-process.js";
import { runToEnd } from "../helpers/spawn.js";
// @ts-expect-error: a plain .mjs fixture (it is also run as a process)
import { startHttpMcpServer, startStatefulHttpMcpServer } from "../fixtures/mcp/server.mjs";

/**
 * Issue 23, item 4 (the parts that are not about processes): the system prompt names the
 * MCP tools and which need approval; `url` servers go through HTTPS_PROXY/NO_PROXY like
 * the model; no listener leak however many calls; HTTP sessions are ended at exit.
 */
const stdio = (name: string) => stdioServer(name);
const call = (id: string, name: string, input: object = {}) => ({ type: "tool_use", id, name, input });
const toolTurn = (blocks: object[]) => ({ response: { content: blocks, stop_reason: "tool_use" } });
const textTurn = (text: string, expect?: object) => ({ ...(expect ? { expect } : {}), response: { content: [{ type: "text", text }], stop_reason: "end_turn" } });

let server: FakeServer | undefined;
const cleanups: Array<() => Promise<void>> = [];
afterEach(async () => {
  await server?.close();
  server = undefined;
  for (const c of cleanups.splice(0)) await c();
});

/** `pod prompt`'s output (plain text, not events). */
const prompt = (dir: string) => runToEnd(process.execPath, [POD_BIN, "prompt"], { cwd: dir, env: podEnv(undefined) as NodeJS.ProcessEnv });

/** A manifest with pod's built-in system prompt (the helper's replaces it). */
const builtIn = (extra: string, scope = false) => ["[pod]", 'name = "tester"', 'model = "claude-sonnet-5-5"', ...(scope ? ["", "[scope]", 'root = "."'] : []), extra].join("\n");

describe("the system prompt lists MCP tools", () => {
  it("with only MCP servers: no 'You have no tools', the servers by name, what pauses for approval", async () => {
    const dir = await makeProject(builtIn(`\n[tools]\nask = ["mcp__fx__echo"]\n` + stdio("fx") + `\n[mcp.docs]\nurl = "http://127.0.0.1:9/mcp"\n`));
    const r = await prompt(dir);
    expect(r.code).toBe(0);
    expect(r.stdout).not.toContain("You have no tools");
    expect(r.stdout).toContain('- MCP tools from the servers "docs", "fx" (named mcp__<server>__<tool>, e.g. mcp__docs__…): each comes with its own description.');
    expect(r.stdout).toContain("- These calls pause the run until a person approves them: mcp__fx__echo.");
  });

  it("next to the built-in tools; a run sends the same prompt `pod prompt` prints", async () => {
    server = await startFakeServer({ turns: [textTurn("hi")] });
    const dir = await makeProject(builtIn(`\n[tools]\nask = ["Write", "mcp__fx__env"]\n` + stdio("fx"), true));
    const printed = await prompt(dir);
    expect(printed.stdout).toContain("- File tools: Read, Write, Edit, Glob, Grep.");
    expect(printed.stdout).toContain('- MCP tools from the server "fx"');
    expect(printed.stdout).toContain("- These calls pause the run until a person approves them: Write, mcp__fx__env.");
    const r = await runPod(["run", "hi"], { cwd: dir, env: podEnv(server.url) });
    expect(r.code).toBe(0);
    expect(server.requests[0]!.body.system[0].text + "\n").toBe(printed.stdout);
  });
});

describe("MCP calls", () => {
  it("many calls in one run: no MaxListenersExceededWarning (one AbortController per call, unlinked after)", async () => {
    const many = Array.from({ length: 15 }, (_, i) => call(`e${i}`, "mcp__fx__echo", { text: `n${i}` }));
    server = await startFakeServer({ turns: [toolTurn(many.slice(0, 8)), toolTurn(many.slice(8)), textTurn("done", { tool_result_for: "e14" })] });
    const dir = await makeProject(manifest({ scope: false, extra: stdio("fx") }));
    const r = await runPod(["run", "echo a lot"], { cwd: dir, env: podEnv(server.url) });
    expect(r.code).toBe(0);
    expect(ofType(r.events, "tool_result").filter((e) => !e.is_error)).toHaveLength(15);
    expect(r.stderr).not.toContain("MaxListenersExceededWarning");
    expect(r.stderr).not.toMatch(/abort listeners added/);
  });

  it("an HTTP server's session is ended (DELETE with its session id) when pod exits", async () => {
    const mcp = await startStatefulHttpMcpServer();
    cleanups.push(() => mcp.close());
    server = await startFakeServer({ turns: [toolTurn([call("h1", "mcp__web__echo", { text: "hi" })]), textTurn("ok", { tool_result_for: "h1" })] });
    const dir = await makeProject(manifest({ scope: false, extra: `\n[mcp.web]\nurl = "${mcp.url}"\nrequired = true\n` }));
    const r = await runPod(["run", "go"], { cwd: dir, env: podEnv(server.url) });
    expect(r.code).toBe(0);
    expect(ofType(r.events, "tool_result")[0]).toMatchObject({ is_error: false, output: "stateful echo: hi" });
    const session = mcp.seen.find((s: any) => s.session)?.session;
    expect(session).toBeTruthy();
    expect(mcp.seen.filter((s: any) => s.method === "DELETE")).toEqual([{ method: "DELETE", session }]);
    expect(mcp.open()).toEqual([]);
  });
});

describe("url servers and proxies", () => {
  /** A forward proxy (absolute-form HTTP) that records what it carries. */
  async function proxy() {
    const seen: string[] = [];
    const p = http.createServer((req, res) => {
      seen.push(`${req.method} ${req.url}`);
      const target = new URL(req.url ?? "");
      const up = http.request({ host: target.hostname, port: target.port, path: target.pathname + target.search, method: req.method, headers: req.headers }, (u) => {
        res.writeHead(u.statusCode ?? 502, u.headers);
        u.pipe(res);
      });
      up.on("error", () => res.destroy());
      req.pipe(up);
    });
    const sockets = new Set<net.Socket>();
    p.on("connection", (s) => (sockets.add(s), s.on("close", () => sockets.delete(s))));
    await new Promise<void>((r) => p.listen(0, "127.0.0.1", r));
    cleanups.push(() => new Promise<void>((r) => (sockets.forEach((s) => s.destroy()), p.close(() => r()))));
    return { url: `http://127.0.0.1:${(p.address() as AddressInfo).port}`, seen };
  }

  it("http_proxy carries the MCP server's requests, as it carries the model's", async () => {
    const mcp = await startHttpMcpServer();
    cleanups.push(() => mcp.close());
    const via = await proxy();
    server = await startFakeServer({ turns: [toolTurn([call("p1", "mcp__web__echo", { text: "proxied" })]), textTurn("ok", { tool_result_for: "p1" })] });
    const dir = await makeProject(manifest({ scope: false, extra: `\n[mcp.web]\nurl = "${mcp.url}"\nrequired = true\n` }));
    const r = await runPod(["run", "go"], { cwd: dir, env: podEnv(server.url, { http_proxy: via.url }) });
    expect(r.code).toBe(0);
    expect(ofType(r.events, "tool_result")[0]).toMatchObject({ is_error: false, output: "http echo: proxied" });
    expect(via.seen).toContain(`POST ${mcp.url}`);
    expect(via.seen.filter((s) => s.includes("/v1/messages")).length).toBeGreaterThan(0);
  });

  it("NO_PROXY lets the MCP server be reached directly", async () => {
    const mcp = await startHttpMcpServer();
    cleanups.push(() => mcp.close());
    const via = await proxy();
    server = await startFakeServer({ turns: [toolTurn([call("p1", "mcp__web__echo", { text: "direct" })]), textTurn("ok", { tool_result_for: "p1" })] });
    const dir = await makeProject(manifest({ scope: false, extra: `\n[mcp.web]\nurl = "${mcp.url}"\nrequired = true\n` }));
    const r = await runPod(["run", "go"], { cwd: dir, env: podEnv(server.url, { http_proxy: via.url, NO_PROXY: "127.0.0.1" }) });
    expect(r.code).toBe(0);
    expect(ofType(r.events, "tool_result")[0]).toMatchObject({ is_error: false, output: "http echo: direct" });
    expect(via.seen.filter((s) => s.includes("/mcp"))).toEqual([]);
    expect(mcp.seen.length).toBeGreaterThan(0);
  });
});
