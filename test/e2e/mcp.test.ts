import { afterEach, describe, expect, it } from "vitest";
import { startFakeServer, type FakeServer } from "../fake-server/server.js";
import { stdioServer } from "../helpers/mcp-fixture.js";
import { makeProject, manifest, ofType, podEnv, runPod, TEST_API_KEY } from "../helpers/pod-process.js";
// @ts-expect-error: a plain .mjs fixture (it is also run as a process)
import { startHttpMcpServer } from "../fixtures/mcp/server.mjs";

const call = (id: string, name: string, input: object = {}) => ({ type: "tool_use", id, name, input });
const toolTurn = (blocks: object[], expect?: object) => ({ ...(expect ? { expect } : {}), response: { content: blocks, stop_reason: "tool_use" } });
const textTurn = (text: string, expect?: object) => ({ ...(expect ? { expect } : {}), response: { content: [{ type: "text", text }], stop_reason: "end_turn" } });

let server: FakeServer | undefined;
const cleanups: Array<() => Promise<void>> = [];
afterEach(async () => {
  await server?.close();
  server = undefined;
  for (const c of cleanups.splice(0)) await c();
});

describe("MCP servers", () => {
  it("offers a stdio server's tools as mcp__<server>__<tool> and maps text, errors, images and caps", async () => {
    server = await startFakeServer({
      turns: [
        toolTurn(
          [
            call("t1", "mcp__fx__echo", { text: "hi" }),
            call("t2", "mcp__fx__env"),
            call("t3", "mcp__fx__fail"),
            call("t4", "mcp__fx__image"),
            call("t5", "mcp__fx__big"),
          ],
          { has_tools: ["Read", "mcp__fx__echo", "mcp__fx__env", "mcp__fx__fail"] },
        ),
        textTurn("done", { tool_result_for: "t5" }),
      ],
    });
    const dir = await makeProject(manifest({ extra: stdioServer("fx", 'env = { FIXTURE_TOKEN = "$MY_SECRET" }') }));
    const r = await runPod(["run", "use the tools"], { cwd: dir, env: podEnv(server.url, { MY_SECRET: "s3cret-value", AWS_SECRET_ACCESS_KEY: "aws-secret" }) });
    expect(server.mismatches).toEqual([]);
    expect(r.code).toBe(0);

    // The server's own JSON Schema goes to the API.
    const echo = server.requests[0]!.body.tools.find((t: any) => t.name === "mcp__fx__echo");
    expect(echo.input_schema).toMatchObject({ type: "object", properties: { text: { type: "string" } }, required: ["text"] });

    const results = Object.fromEntries(ofType(r.events, "tool_result").map((e) => [e.id, e]));
    expect(results.t1).toMatchObject({ name: "mcp__fx__echo", is_error: false, output: "stdio echo: hi" });
    // The server sees a minimal environment plus its own `env`: never the provider credential.
    const seen = JSON.parse(results.t2.output);
    expect(seen.FIXTURE_TOKEN).toBe("s3cret-value");
    expect(seen.keys).not.toContain("ANTHROPIC_API_KEY");
    expect(seen.keys).not.toContain("AWS_SECRET_ACCESS_KEY");
    expect(seen.keys).not.toContain("MY_SECRET");
    expect(results.t3).toMatchObject({ is_error: true, output: "it broke" });
    expect(results.t4.output).toContain("here is a picture");
    expect(results.t4.output).toMatch(/\[image image\/png, \d+ bytes/);
    expect(results.t5.truncated).toBe(true);
    expect(results.t5.output.length).toBeLessThan(60_000);
    expect(r.stdout).not.toContain(TEST_API_KEY);
  });

  it("talks to a streamable HTTP server with $VAR headers", async () => {
    const http = await startHttpMcpServer({ token: "tok-123" });
    cleanups.push(() => http.close());
    server = await startFakeServer({
      turns: [toolTurn([call("h1", "mcp__web__echo", { text: "over http" })], { has_tools: ["mcp__web__echo"] }), textTurn("ok", { tool_result_for: "h1" })],
    });
    const dir = await makeProject(manifest({ scope: false, extra: `\n[mcp.web]\nurl = "${http.url}"\nheaders = { Authorization = "Bearer $WEB_TOKEN" }\nrequired = true\n` }));
    const r = await runPod(["run", "go"], { cwd: dir, env: podEnv(server.url, { WEB_TOKEN: "tok-123" }) });
    expect(server.mismatches).toEqual([]);
    expect(r.code).toBe(0);
    expect(ofType(r.events, "tool_result")[0]).toMatchObject({ id: "h1", is_error: false, output: "http echo: over http" });
    expect(http.seen.every((s: any) => s.authorization === "Bearer tok-123")).toBe(true);
  });

  it("goes on without a server that fails to start, with one error event; refuses the run when it is required", async () => {
    server = await startFakeServer({ turns: [textTurn("no tools needed", { has_tools: ["Read"] })] });
    const bad = `\n[mcp.broken]\ncommand = ["/nonexistent/mcp-server"]\n` + stdioServer("slow", "startup_timeout_s = 1", ["--hang"]);
    const dir = await makeProject(manifest({ extra: bad }));
    const r = await runPod(["run", "go"], { cwd: dir, env: podEnv(server.url) });
    expect(r.code).toBe(0);
    const errors = ofType(r.events, "error");
    expect(errors).toHaveLength(2);
    expect(errors.every((e) => e.code === "tool_error")).toBe(true);
    expect(errors.map((e) => e.message).join("\n")).toMatch(/"broken" failed to start/);
    expect(errors.map((e) => e.message).join("\n")).toMatch(/"slow" failed to start: .*startup_timeout_s/);
    expect(r.events.at(-1)).toMatchObject({ type: "run_end", result: "finished" });

    const dir2 = await makeProject(manifest({ extra: `\n[mcp.broken]\ncommand = ["/nonexistent/mcp-server"]\nrequired = true\n` }));
    const r2 = await runPod(["run", "go"], { cwd: dir2, env: podEnv(server.url) });
    expect(r2.code).toBe(1);
    expect(ofType(r2.events, "run_start")).toHaveLength(0);
    expect(r2.events).toHaveLength(1);
    expect(r2.events[0]).toMatchObject({ type: "error", code: "tool_error" });
    expect(r2.events[0].message).toContain("required = false");
  });

  it("applies tools.disabled and tools.ask to MCP tools like built-ins", async () => {
    server = await startFakeServer({ turns: [toolTurn([call("a1", "mcp__fx__echo", { text: "wait" })])] });
    const dir = await makeProject(manifest({ extra: `\n[tools]\nask = ["mcp__fx__echo"]\ndisabled = ["mcp__fx__fail"]\n` + stdioServer("fx") }));
    const r = await runPod(["run", "go"], { cwd: dir, env: podEnv(server.url) });
    expect(r.code).toBe(10);
    const names = server.requests[0]!.body.tools.map((t: any) => t.name);
    expect(names).toContain("mcp__fx__echo");
    expect(names).not.toContain("mcp__fx__fail");
    expect(ofType(r.events, "tool_result")).toHaveLength(0);
  });

  it("runs hooks around MCP tools like around built-ins", async () => {
    server = await startFakeServer({ turns: [toolTurn([call("b1", "mcp__fx__echo", { text: "x" })]), textTurn("ok", { tool_result_for: "b1" })] });
    const hook = '\n[[hooks.pre_tool_use]]\nmatcher = "mcp__fx__.*"\ncommand = "cat > /dev/null; echo no MCP today >&2; exit 2"\n';
    const dir = await makeProject(manifest({ extra: hook + stdioServer("fx") }));
    const r = await runPod(["run", "go"], { cwd: dir, env: podEnv(server.url) });
    expect(server.mismatches).toEqual([]);
    expect(r.code).toBe(0);
    expect(ofType(r.events, "tool_result")[0]).toMatchObject({ id: "b1", is_error: true, output: "Blocked by a pre_tool_use hook: no MCP today" });
    expect(ofType(r.events, "hook")[0]).toMatchObject({ hook: "pre_tool_use", tool_name: "mcp__fx__echo", decision: "block", exit_code: 2 });
  });
});
