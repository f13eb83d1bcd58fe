import { existsSync } from "node:fs";
import { readFile } from "node:fs/promises";
import http from "node:http";
import net, { type AddressInfo } from "node:net";
import path from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import { startFakeServer, type FakeServer } from "../fake-server/server.js";
import { makeProject, manifest, ofType, podEnv, runPod, TEST_API_KEY } from "../helpers/pod-process.js";

/**
 * The network as a CI runner meets it: credentials that cannot work, a proxy in the
 * way, a provider that hangs, refuses, or asks to come back in an hour. The real binary
 * and the real SDK over real sockets; small limits through the documented variables.
 */
let server: FakeServer | undefined;
const closers: (() => Promise<void>)[] = [];
afterEach(async () => {
  await server?.close();
  server = undefined;
  for (const c of closers.splice(0)) await c();
});

const answer = { response: { content: [{ type: "text", text: "Hello through the network." }], stop_reason: "end_turn" } };
const fast = { POD_RETRY_BASE_MS: "10" };

async function status(dir: string) {
  return JSON.parse(await readFile(path.join(dir, ".pod/tester/status.json"), "utf8"));
}

/**
 * The silences that end in a `waiting` line (ms, by the lines' ts): their median, and how
 * often a waiting line follows another (the heartbeat repeating, not once per attempt).
 */
function heartbeatGaps(events: any[]): { median: number; repeats: number } {
  const gaps: number[] = [];
  let repeats = 0;
  for (let i = 1; i < events.length; i++) {
    if (events[i].type !== "waiting") continue;
    gaps.push(Date.parse(events[i].ts) - Date.parse(events[i - 1].ts));
    if (events[i - 1].type === "waiting") repeats++;
  }
  gaps.sort((a, b) => a - b);
  return { median: gaps[Math.floor(gaps.length / 2)] ?? Infinity, repeats };
}

/** A forward proxy on 127.0.0.1 (absolute-form HTTP and CONNECT) that counts what it carries. */
async function startProxy() {
  const seen: string[] = [];
  const proxy = http.createServer((req, res) => {
    seen.push(`${req.method} ${req.url}`);
    const target = new URL(req.url ?? "");
    const upstream = http.request({ host: target.hostname, port: target.port, path: target.pathname + target.search, method: req.method, headers: req.headers }, (up) => {
      res.writeHead(up.statusCode ?? 502, up.headers);
      up.pipe(res);
    });
    upstream.on("error", () => res.destroy());
    req.pipe(upstream);
  });
  proxy.on("connect", (req, socket, head) => {
    seen.push(`CONNECT ${req.url}`);
    const [host, port] = (req.url ?? "").split(":");
    const up = net.connect(Number(port), host, () => {
      socket.write("HTTP/1.1 200 Connection Established\r\n\r\n");
      up.write(head);
      up.pipe(socket);
      socket.pipe(up);
    });
    up.on("error", () => socket.destroy());
    socket.on("error", () => up.destroy());
  });
  const sockets = new Set<net.Socket>();
  proxy.on("connection", (s) => (sockets.add(s), s.on("close", () => sockets.delete(s))));
  await new Promise<void>((r) => proxy.listen(0, "127.0.0.1", r));
  const url = `http://127.0.0.1:${(proxy.address() as AddressInfo).port}`;
  closers.push(() => new Promise<void>((r) => (sockets.forEach((s) => s.destroy()), proxy.close(() => r()))));
  return { url, seen };
}

/** A port nothing listens on: bound, then closed. */
async function closedPort(): Promise<number> {
  const s = net.createServer();
  await new Promise<void>((r) => s.listen(0, "127.0.0.1", r));
  const { port } = s.address() as AddressInfo;
  await new Promise<void>((r) => s.close(() => r()));
  return port;
}

describe("credentials", () => {
  it("refuses the README's placeholder key (a Unicode ellipsis) before any request: invalid_credentials, exit 2, nothing touched", async () => {
    server = await startFakeServer({ turns: [answer] });
    const dir = await makeProject(manifest({ scope: false }));
    const key = "sk-ant-…";
    const r = await runPod(["run", "hi"], { cwd: dir, env: podEnv(server.url, { ANTHROPIC_API_KEY: key }) });
    expect(r.code).toBe(2);
    expect(r.events).toEqual([expect.objectContaining({ type: "error", code: "invalid_credentials" })]);
    expect(r.events[0].message).toContain("ANTHROPIC_API_KEY");
    expect(r.events[0].message).toContain("non-ASCII");
    expect(r.events[0].message).not.toContain("ByteString");
    // Not even part of the key is printed.
    expect(r.stdout + r.stderr).not.toContain("sk-ant");
    expect(server.requests).toHaveLength(0);
    expect(existsSync(path.join(dir, ".pod"))).toBe(false);
  });

  for (const [label, value] of [
    ["empty", ""],
    ["only whitespace", "  \n"],
    ["inner whitespace", "sk-ant-abc def"],
  ] as const) {
    it(`refuses a key that is ${label}, naming the variable (ANTHROPIC_AUTH_TOKEN)`, async () => {
      const dir = await makeProject(manifest({ scope: false }));
      const r = await runPod(["run", "hi"], { cwd: dir, env: podEnv("http://127.0.0.1:9", { ANTHROPIC_API_KEY: undefined, ANTHROPIC_AUTH_TOKEN: value }) });
      expect(r.code).toBe(2);
      expect(r.events[0]).toMatchObject({ type: "error", code: "invalid_credentials" });
      expect(r.events[0].message).toContain("ANTHROPIC_AUTH_TOKEN");
      if (value.trim()) expect(r.stdout + r.stderr).not.toContain(value.trim().slice(0, 7));
    });
  }

  for (const status401 of [401, 403]) {
    it(`a key the API rejects (HTTP ${status401}) is invalid_credentials: no retry, exit 1, pod idle`, async () => {
      server = await startFakeServer({ turns: [{ ...answer, fault: { kind: "http", status: status401, times: 5, message: `key ${TEST_API_KEY} is no good` } }] });
      const dir = await makeProject(manifest({ scope: false }));
      const r = await runPod(["run", "hi"], { cwd: dir, env: podEnv(server.url, fast) });
      expect(r.code).toBe(1);
      expect(server.requests).toHaveLength(1);
      expect(ofType(r.events, "turn_retry")).toHaveLength(0);
      const error = ofType(r.events, "error")[0];
      expect(error.code).toBe("invalid_credentials");
      expect(error.message).toContain("ANTHROPIC_API_KEY");
      expect(error.message).toContain(`HTTP ${status401}`);
      expect(r.stdout + r.stderr).not.toContain(TEST_API_KEY);
      expect(r.events.at(-1)).toMatchObject({ type: "run_end", result: "error" });
      expect(await status(dir)).toMatchObject({ status: "idle", last_result: "error" });
    });
  }

  it("ANTHROPIC_AUTH_TOKEN alone works, sent as a bearer token", async () => {
    server = await startFakeServer({ turns: [answer] });
    const dir = await makeProject(manifest({ scope: false }));
    const r = await runPod(["run", "hi"], { cwd: dir, env: podEnv(server.url, { ANTHROPIC_API_KEY: undefined, ANTHROPIC_AUTH_TOKEN: "bearer-token-for-test" }) });
    expect(r.code).toBe(0);
    expect(server.requests[0]!.headers.authorization).toBe("Bearer bearer-token-for-test");
    expect(server.requests[0]!.headers["x-api-key"]).toBeUndefined();
  });
});

describe("proxies", () => {
  for (const variable of ["http_proxy", "ALL_PROXY", "all_proxy"]) {
    it(`sends every request through ${variable}`, async () => {
      server = await startFakeServer({ turns: [answer] });
      const proxy = await startProxy();
      const dir = await makeProject(manifest({ scope: false }));
      const r = await runPod(["run", "hi"], { cwd: dir, env: podEnv(server.url, { [variable]: proxy.url }) });
      expect(r.code).toBe(0);
      expect(proxy.seen).toEqual([`POST ${server.url}/v1/messages`]);
      expect(server.requests).toHaveLength(1);
    });
  }

  it("a scheme-less proxy (http_proxy=127.0.0.1:PORT) means http:// (it was an internal error)", async () => {
    server = await startFakeServer({ turns: [answer] });
    const proxy = await startProxy();
    const dir = await makeProject(manifest({ scope: false }));
    const r = await runPod(["run", "hi"], { cwd: dir, env: podEnv(server.url, { http_proxy: proxy.url.replace(/^http:\/\//, "") }) });
    expect(r.code).toBe(0);
    expect(proxy.seen).toEqual([`POST ${server.url}/v1/messages`]);
  });

  it("upper-case HTTP_PROXY is not used for http:// URLs, as curl (httpoxy); NO_PROXY takes CIDR ranges", async () => {
    server = await startFakeServer({ turns: [answer, answer] });
    const proxy = await startProxy();
    const dir = await makeProject(manifest({ scope: false }));
    const upper = await runPod(["run", "hi"], { cwd: dir, env: podEnv(server.url, { HTTP_PROXY: proxy.url }) });
    expect(upper.code).toBe(0);
    const cidr = await runPod(["run", "again"], { cwd: dir, env: podEnv(server.url, { http_proxy: proxy.url, NO_PROXY: "10.0.0.0/8, 127.0.0.0/8" }) });
    expect(cidr.code).toBe(0);
    expect(proxy.seen).toEqual([]);
    expect(server.requests).toHaveLength(2);
  });

  it("a proxy pod cannot speak to is a usage error naming the variable, before anything is touched", async () => {
    const dir = await makeProject(manifest({ scope: false }));
    const r = await runPod(["run", "hi"], { cwd: dir, env: podEnv("http://127.0.0.1:9", { http_proxy: "socks5://127.0.0.1:1080" }) });
    expect(r.code).toBe(2);
    expect(r.events).toHaveLength(1);
    expect(r.events[0]).toMatchObject({ type: "error", code: "invalid_input" });
    expect(r.events[0].message).toMatch(/http_proxy=socks5:\/\/127\.0\.0\.1:1080/);
  });

  it("NO_PROXY bypasses the proxy; HTTPS_PROXY does not apply to an http:// base URL (as curl)", async () => {
    server = await startFakeServer({ turns: [answer, answer] });
    const proxy = await startProxy();
    const dir = await makeProject(manifest({ scope: false }));
    const bypass = await runPod(["run", "hi"], { cwd: dir, env: podEnv(server.url, { http_proxy: proxy.url, NO_PROXY: "localhost,127.0.0.1" }) });
    expect(bypass.code).toBe(0);
    const httpsOnly = await runPod(["run", "again"], { cwd: dir, env: podEnv(server.url, { HTTPS_PROXY: proxy.url }) });
    expect(httpsOnly.code).toBe(0);
    expect(proxy.seen).toEqual([]);
    expect(server.requests).toHaveLength(2);
  });

  it("a proxy that refuses connections is named in the error, with the cause", async () => {
    server = await startFakeServer({ turns: [answer] });
    const port = await closedPort();
    const dir = await makeProject(manifest({ scope: false }));
    const r = await runPod(["run", "hi"], { cwd: dir, env: podEnv(server.url, { ...fast, http_proxy: `http://127.0.0.1:${port}`, POD_MAX_RETRIES: "1" }) });
    expect(r.code).toBe(1);
    const message = ofType(r.events, "error")[0].message;
    expect(message).toContain(`proxy http://127.0.0.1:${port}`);
    expect(message).toContain("ECONNREFUSED");
  });
});

describe("a dead or slow provider is never silent", () => {
  it("a refused port: each retry is a turn_retry line; the error names host and cause; the pod is resumable", async () => {
    const port = await closedPort();
    const dir = await makeProject(manifest({ scope: false }));
    const r = await runPod(["run", "hi"], { cwd: dir, env: podEnv(`http://127.0.0.1:${port}`, { ...fast, POD_MAX_RETRIES: "2" }) });
    expect(r.code).toBe(1);
    const retries = ofType(r.events, "turn_retry");
    expect(retries.map((e) => e.attempt)).toEqual([1, 2]);
    expect(retries[0].reason).toContain(`127.0.0.1:${port}`);
    expect(retries[0].reason).toContain("ECONNREFUSED");
    const error = ofType(r.events, "error")[0];
    expect(error).toMatchObject({ code: "provider_error" });
    expect(error.message).toMatch(new RegExp(`cannot reach 127\\.0\\.0\\.1:${port}: ECONNREFUSED.*\\(after 3 attempts`));
    expect(await status(dir)).toMatchObject({ status: "paused" });
  });

  it("a server that accepts and never answers: waiting lines at least every heartbeat, retries, then a bounded give-up", async () => {
    server = await startFakeServer({ turns: [{ ...answer, fault: { kind: "hang", times: 100 } }] });
    const dir = await makeProject(manifest({ scope: false }));
    const r = await runPod(["run", "hi"], {
      cwd: dir,
      env: podEnv(server.url, { ...fast, POD_REQUEST_TIMEOUT_MS: "1200", POD_HEARTBEAT_MS: "300", POD_RETRY_TOTAL_MS: "3000", POD_MAX_RETRIES: "10" }),
    });
    expect(r.code).toBe(1);
    // Bounded by POD_RETRY_TOTAL_MS, not by 10 retries × the timeout: 3 s of 1.2 s
    // attempts is at most 3 requests (each retry is one, and a turn_retry line).
    const retries = ofType(r.events, "turn_retry").length;
    expect(retries).toBeGreaterThanOrEqual(1);
    expect(server.requests).toHaveLength(retries + 1);
    expect(server.requests.length).toBeLessThanOrEqual(3);
    expect(ofType(r.events, "waiting").length).toBeGreaterThanOrEqual(3);
    expect(ofType(r.events, "waiting")[0]).toMatchObject({ turn: 1, waiting_for: "response" });
    // The contract: no silence longer than the heartbeat. The heartbeat repeats within an
    // attempt (a line once per attempt would leave 900 ms silences), and the typical
    // silence before a waiting line is one heartbeat: the median, since a loaded machine
    // delays a timer now and then (a 1 s bound on the longest gap failed under load).
    const heartbeats = heartbeatGaps(r.events);
    expect(heartbeats.repeats).toBeGreaterThanOrEqual(2);
    expect(heartbeats.median).toBeLessThanOrEqual(2 * 300);
    const error = ofType(r.events, "error")[0];
    expect(error.message).toContain(`no response from ${new URL(server.url).host}`);
    expect(error.message).toContain("POD_REQUEST_TIMEOUT_MS");
  });

  it("retry-after: 3600 is capped (POD_RETRY_AFTER_MAX_MS), announced, and waited with heartbeats", async () => {
    server = await startFakeServer({ turns: [{ ...answer, fault: { kind: "http", status: 429, retry_after_s: 3600, times: 1 } }] });
    const dir = await makeProject(manifest({ scope: false }));
    const r = await runPod(["run", "hi"], { cwd: dir, env: podEnv(server.url, { ...fast, POD_RETRY_AFTER_MAX_MS: "1000", POD_HEARTBEAT_MS: "300" }) });
    expect(r.code).toBe(0);
    const retry = ofType(r.events, "turn_retry");
    expect(retry).toHaveLength(1);
    expect(retry[0]).toMatchObject({ turn: 1, attempt: 1, delay_ms: 1000 });
    expect(retry[0].reason).toContain("HTTP 429");
    const waits = ofType(r.events, "waiting").filter((e) => e.waiting_for === "retry");
    expect(waits.length).toBeGreaterThanOrEqual(2);
    expect(r.events.at(-1)).toMatchObject({ type: "run_end", result: "finished" });
    expect(server.requests).toHaveLength(2);
  });

  it("gives up instead of waiting past the total retry time", async () => {
    server = await startFakeServer({ turns: [{ ...answer, fault: { kind: "http", status: 429, retry_after_s: 3600, times: 5 } }] });
    const dir = await makeProject(manifest({ scope: false }));
    const r = await runPod(["run", "hi"], { cwd: dir, env: podEnv(server.url, { ...fast, POD_RETRY_AFTER_MAX_MS: "800", POD_RETRY_TOTAL_MS: "1500" }) });
    expect(r.code).toBe(1);
    expect(ofType(r.events, "turn_retry")).toHaveLength(1);
    expect(ofType(r.events, "error")[0].message).toMatch(/HTTP 429 .*\(after 2 attempts/);
  });
});
