// What starting and stopping MCP stdio servers through pod costs (issue 23 item 4:
// servers start side by side, each at most 200 ms beyond its own start-up; all are shut
// down within 1 s after run_end, even one that ignores stdin and SIGTERM). N real
// servers (test/fixtures/mcp/server.mjs, the SDK's own server) are started:
// - on their own: `node server.mjs` spawned directly and driven by the SDK's own client
//   (initialize, then tools/list) over a plain transport, all N at once — their own start-up;
// - through pod's startMcpServers() (src/tools/mcp/servers.ts) as a run starts them:
//   each confined by bwrap (src/sandbox/confine.ts, a fresh protection policy per round, so
//   its walk of the scope is paid too), and with sandbox = "off";
// interleaved round by round, medians. Then close(): N well-behaved servers, and N with
// one behind `sh -c "trap '' TERM; node server.mjs --stubborn"` (ignores stdin and SIGTERM).
import { spawn } from "node:child_process";
import { mkdtemp, realpath, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import path from "node:path";
import { median } from "./lib.mjs";

/**
 * The baseline's transport: the server spawned directly — in a session of its own, as pod
 * spawns one (the SDK's StdioClientTransport does not; on a loaded machine with scheduler
 * autogroups that alone made 4 servers start ~40% slower) — speaking the SDK's framing.
 */
function plainTransport(argv, cwd, env, { ReadBuffer, serializeMessage }) {
  let child;
  const buffer = new ReadBuffer();
  const t = {
    async start() {
      child = spawn(argv[0], argv.slice(1), { cwd, env, detached: true, stdio: ["pipe", "pipe", "inherit"] });
      child.stdout.on("data", (chunk) => {
        buffer.append(chunk);
        for (let m = buffer.readMessage(); m !== null; m = buffer.readMessage()) t.onmessage?.(m);
      });
      child.on("exit", () => t.onclose?.());
    },
    async send(message) {
      child.stdin.write(serializeMessage(message));
    },
    async close() {
      if (child.exitCode !== null || child.signalCode !== null) return;
      const gone = new Promise((r) => child.once("exit", r));
      child.stdin.end();
      await gone;
    },
  };
  return t;
}

export async function mcpBench(root, { servers = 4, rounds = 15 } = {}) {
  const fixture = path.join(root, "test/fixtures/mcp/server.mjs");
  const read = [root, await realpath(path.join(root, "node_modules"))];
  const { Client } = await import("@modelcontextprotocol/sdk/client/index.js");
  const { ReadBuffer, serializeMessage } = await import("@modelcontextprotocol/sdk/shared/stdio.js");
  const { startMcpServers } = await import("../src/tools/mcp/servers.ts");
  const { confinementFor } = await import("../src/sandbox/index.ts");
  const { Protection } = await import("../src/policy/protection.ts");
  const { detectSandbox } = await import("../src/sandbox/detect.ts");
  const probe = await detectSandbox("required");
  if (!probe.ok) throw new Error(`the mcp bench needs bwrap: ${probe.error.full}`);

  const workspace = await realpath(await mkdtemp(path.join(tmpdir(), "pod-bench-mcp-")));
  // The baseline gets the environment pod gives a server.
  const { commandEnv } = await import("../src/sandbox/index.ts");
  const ownHome = await mkdtemp(path.join(tmpdir(), "pod-bench-mcp-home-"));
  const ownEnv = { ...commandEnv({ env: [] }), HOME: ownHome, TMPDIR: ownHome };
  await writeFile(path.join(workspace, "pod.toml"), '[pod]\nname = "bench"\n');
  const entry = (extra = {}) => ({ command: [process.execPath, fixture], env: {}, headers: {}, required: true, startup_timeout_s: 30, network: true, sandbox: "required", read, ...extra });
  const config = (n, extra) => Object.fromEntries(Array.from({ length: n }, (_, i) => [`s${i}`, entry(extra)]));
  const protection = () => new Protection({ root: workspace, deny: [], readOnly: [path.join(workspace, "pod.toml")], hidden: [path.join(workspace, ".pod")], pinned: [] });
  const viaPod = async (cfg) => {
    const p = protection();
    const t = performance.now();
    const mcp = await startMcpServers(cfg, {
      cwd: workspace,
      confine: (name, server) => confinementFor({ settings: server, protection: p, alsoRead: [], who: name, offKey: name }),
      stderr: process.stderr,
    });
    const ms = performance.now() - t;
    if (mcp.failures.length > 0) throw new Error(mcp.failures.map((f) => f.message).join("\n"));
    if (mcp.tools.length === 0) throw new Error("no tools listed");
    return { ms, close: () => mcp.close() };
  };
  const own = async (n) => {
    const clients = Array.from({ length: n }, () => new Client({ name: "bench", version: "1" }));
    const t = performance.now();
    await Promise.all(
      clients.map(async (c) => {
        await c.connect(plainTransport([process.execPath, fixture], workspace, ownEnv, { ReadBuffer, serializeMessage }));
        await c.listTools();
      }),
    );
    const ms = performance.now() - t;
    return { ms, close: () => Promise.all(clients.map((c) => c.close())) };
  };

  const rows = { own1: [], ownN: [], pod1: [], podN: [], offN: [], closeN: [], closeStubborn: [] };
  for (let i = 0; i <= rounds; i++) {
    const measure = async (key, start) => {
      const s = await start();
      if (i > 0) rows[key].push(s.ms);
      return s;
    };
    // Each through-pod start right after its own baseline: a slow spell of the machine hits both.
    await (await measure("own1", () => own(1))).close();
    await (await measure("pod1", () => viaPod(config(1)))).close();
    await (await measure("ownN", () => own(servers))).close();
    const podN = await measure("podN", () => viaPod(config(servers)));
    let t = performance.now();
    await podN.close();
    if (i > 0) rows.closeN.push(performance.now() - t);
    await (await measure("offN", () => viaPod(config(servers, { sandbox: "off" })))).close();
    // One of the N behind a wrapper that ignores stdin's end and SIGTERM.
    const wrapper = `trap '' TERM; ${JSON.stringify(process.execPath)} ${JSON.stringify(fixture)} --stubborn`;
    const stubborn = await viaPod({ ...config(servers - 1), stubborn: entry({ command: ["sh", "-c", wrapper] }) });
    t = performance.now();
    await stubborn.close();
    if (i > 0) rows.closeStubborn.push(performance.now() - t);
  }
  const m = Object.fromEntries(Object.entries(rows).map(([k, v]) => [k, median(v)]));
  // The median of each round's difference (pod's start against the baseline just before it), not the difference of medians.
  const paired = (a, b) => median(rows[a].map((v, i) => v - rows[b][i]));
  return {
    servers,
    rounds,
    ...m,
    /** What each server costs through pod beyond its own start-up (all N side by side). */
    perServer: paired("podN", "ownN"),
    perServerOne: paired("pod1", "own1"),
    perServerOff: paired("offN", "ownN"),
  };
}
