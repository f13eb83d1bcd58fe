import { readFileSync } from "node:fs";
import { readFile } from "node:fs/promises";
import http from "node:http";
import net, { type AddressInfo } from "node:net";
import path from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import { startFakeServer, type FakeServer } from "../fake-server/server.js";
import { makeProject, manifest, ofType, podEnv, REPO_ROOT, runPod, TEST_API_KEY } from "../helpers/pod-process.js";

/**
 * Issue 23, item 5: provider errors classified by what can help. A certificate pod cannot
 * trust, a host name that does not resolve and a proxy that wants a login are permanent
 * (one attempt, one message naming the fix); retry messages tell the real time spent.
 */
let server: FakeServer | undefined;
const closers: (() => Promise<void>)[] = [];
afterEach(async () => {
  await server?.close();
  server = undefined;
  for (const c of closers.splice(0)) await c();
});

const TLS = path.join(REPO_ROOT, "test/fixtures/tls");
const tls = { key: readFileSync(path.join(TLS, "self-signed.key")), cert: readFileSync(path.join(TLS, "self-signed.crt")) };
const answer = { response: { content: [{ type: "text", text: "Hello over TLS." }], stop_reason: "end_turn" } };
const fast = { POD_RETRY_BASE_MS: "10" };

async function project() {
  return makeProject(manifest({ scope: false }));
}

/** A forward proxy that answers every request (and every CONNECT) with `status`, counting them. */
async function refusingProxy(status: number, headers: Record<string, string>, body = "") {
  const seen: string[] = [];
  const proxy = http.createServer((req, res) => {
    seen.push(`${req.method} ${req.url}`);
    res.writeHead(status, { "content-type": "text/plain", ...headers }).end(body);
  });
  proxy.on("connect", (req, socket) => {
    seen.push(`CONNECT ${req.url}`);
    const head = Object.entries(headers).map(([k, v]) => `${k}: ${v}\r\n`).join("");
    socket.end(`HTTP/1.1 ${status} ${http.STATUS_CODES[status]}\r\n${head}content-length: 0\r\n\r\n`);
  });
  const sockets = new Set<net.Socket>();
  proxy.on("connection", (s) => (sockets.add(s), s.on("close", () => sockets.delete(s))));
  await new Promise<void>((r) => proxy.listen(0, "127.0.0.1", r));
  closers.push(() => new Promise<void>((r) => (sockets.forEach((s) => s.destroy()), proxy.close(() => r()))));
  return { url: `http://127.0.0.1:${(proxy.address() as AddressInfo).port}`, seen };
}

describe("TLS certificates", () => {
  it("a certificate no trusted CA signed is permanent: one attempt, a message naming NODE_EXTRA_CA_CERTS", async () => {
    server = await startFakeServer({ turns: [answer] }, { tls });
    const dir = await project();
    const r = await runPod(["run", "hello"], { cwd: dir, env: podEnv(server.url, fast) });
    expect(r.code).toBe(1);
    // Not ~15 s of retries: every retry is a turn_retry line, and there is none.
    expect(ofType(r.events, "turn_retry")).toEqual([]);
    const error = ofType(r.events, "error")[0];
    expect(error.code).toBe("provider_error");
    expect(error.message).toMatch(/cannot verify the TLS certificate of 127\.0\.0\.1:\d+ \(DEPTH_ZERO_SELF_SIGNED_CERT\)/);
    expect(error.message).toMatch(/NODE_EXTRA_CA_CERTS/);
    const status = JSON.parse(await readFile(path.join(dir, ".pod/tester/status.json"), "utf8"));
    expect(status).toMatchObject({ status: "idle", last_result: "error" });
  });

  it("the fix it names works: NODE_EXTRA_CA_CERTS pointing at the CA, the same server is trusted", async () => {
    server = await startFakeServer({ turns: [answer] }, { tls });
    const dir = await project();
    const r = await runPod(["run", "hello"], { cwd: dir, env: podEnv(server.url, { ...fast, NODE_EXTRA_CA_CERTS: path.join(TLS, "self-signed.crt") }) });
    expect(r.code).toBe(0);
    expect(ofType(r.events, "text_done")[0].text).toBe("Hello over TLS.");
  });
});

describe("DNS", () => {
  it("a host name that does not resolve is permanent and names ANTHROPIC_BASE_URL", async () => {
    const dir = await project();
    const r = await runPod(["run", "hello"], { cwd: dir, env: podEnv("http://pod-test-no-such-host.invalid", fast) });
    expect(r.code).toBe(1);
    expect(ofType(r.events, "turn_retry")).toEqual([]);
    expect(ofType(r.events, "error")[0].message).toMatch(/the host name pod-test-no-such-host\.invalid does not resolve \(ENOTFOUND\); fix: check the host in ANTHROPIC_BASE_URL/);
  });

  it("a proxy host that does not resolve is named as the proxy, with its variable", async () => {
    const dir = await project();
    const r = await runPod(["run", "hello"], { cwd: dir, env: podEnv("http://api.example.test", { ...fast, http_proxy: "http://no-such-proxy.invalid:3128" }) });
    expect(r.code).toBe(1);
    expect(ofType(r.events, "turn_retry")).toEqual([]);
    expect(ofType(r.events, "error")[0].message).toMatch(/the proxy host no-such-proxy\.invalid \(from http_proxy\) does not resolve/);
  });
});

describe("a proxy that wants a login", () => {
  const cases = [
    ["HTTP 407 on a plain-http base URL", 407, { "proxy-authenticate": 'Basic realm="corp"' }, "http"],
    ["a proxy's HTTP 401 on a plain-http base URL (not the API's)", 401, {}, "http"],
    ["HTTP 407 to the CONNECT of an https tunnel", 407, { "proxy-authenticate": 'Basic realm="corp"' }, "https"],
  ] as const;
  for (const [label, status, headers, scheme] of cases) {
    it(`${label}: permanent, names the proxy and user:password in the proxy URL, not the API key`, async () => {
      const proxy = await refusingProxy(status, headers, "proxy login required");
      const dir = await project();
      const variable = scheme === "https" ? "HTTPS_PROXY" : "http_proxy";
      const base = scheme === "https" ? "https://api.example.test" : "http://api.example.test";
      const r = await runPod(["run", "hello"], { cwd: dir, env: podEnv(base, { ...fast, [variable]: proxy.url }) });
      expect(r.code).toBe(1);
      expect(proxy.seen).toHaveLength(1);
      expect(ofType(r.events, "turn_retry")).toEqual([]);
      const error = ofType(r.events, "error")[0];
      expect(error.code).toBe("provider_error");
      expect(error.message).toContain(`the proxy ${proxy.url} (from ${variable}) requires authentication (HTTP ${status}): this is the proxy's login, not the API key`);
      expect(error.message).toContain(`${variable}=http://USER:PASSWORD@127.0.0.1:${new URL(proxy.url).port}`);
      expect(error.message).not.toMatch(/ANTHROPIC_API_KEY|rejected/);
    });
  }

  it("credentials already in the proxy URL that it refuses: said so, and the password never printed", async () => {
    const proxy = await refusingProxy(407, { "proxy-authenticate": "Basic" });
    const dir = await project();
    const withUser = proxy.url.replace("http://", "http://builder:hunter2-secret@");
    const r = await runPod(["run", "hello"], { cwd: dir, env: podEnv("http://api.example.test", { ...fast, http_proxy: withUser }) });
    expect(r.code).toBe(1);
    expect(ofType(r.events, "error")[0].message).toContain("refused the credentials in http_proxy (HTTP 407)");
    expect(r.stdout + r.stderr).not.toContain("hunter2-secret");
  });

  it("the API's own 401 through the same kind of proxy is still the API key's problem", async () => {
    server = await startFakeServer({ turns: [{ ...answer, fault: { kind: "http", status: 401, times: 1, message: "invalid x-api-key" } }] });
    // A proxy that passes everything on (absolute-form requests).
    const proxy = http.createServer((req, res) => {
      const target = new URL(req.url ?? "");
      const up = http.request({ host: target.hostname, port: target.port, path: target.pathname, method: req.method, headers: req.headers }, (u) => (res.writeHead(u.statusCode ?? 502, u.headers), u.pipe(res)));
      req.pipe(up);
    });
    await new Promise<void>((r) => proxy.listen(0, "127.0.0.1", r));
    closers.push(() => new Promise<void>((r) => (proxy.closeAllConnections(), proxy.close(() => r()))));
    const dir = await project();
    const r = await runPod(["run", "hello"], { cwd: dir, env: podEnv(server.url, { ...fast, http_proxy: `http://127.0.0.1:${(proxy.address() as AddressInfo).port}` }) });
    expect(r.code).toBe(1);
    expect(ofType(r.events, "error")[0]).toMatchObject({ code: "invalid_credentials", message: expect.stringContaining("the API rejected ANTHROPIC_API_KEY") });
    expect(r.stdout + r.stderr).not.toContain(TEST_API_KEY);
  });
});

describe("retry messages", () => {
  it("report the real time spent on the turn's attempts and waits", async () => {
    server = await startFakeServer({ turns: [{ ...answer, fault: { kind: "sse_error", after_events: 3, times: 3 } }] });
    const dir = await project();
    // Waits of 400 ms then 800 ms between the three attempts.
    const r = await runPod(["run", "hello"], { cwd: dir, env: podEnv(server.url, { POD_RETRY_BASE_MS: "400", POD_MAX_RETRIES: "2" }) });
    expect(r.code).toBe(1);
    expect(ofType(r.events, "turn_retry").map((e) => e.delay_ms)).toEqual([400, 800]);
    const m = ofType(r.events, "error")[0].message.match(/\(after 3 attempts in (\d+\.\d)s\)/);
    expect(m, ofType(r.events, "error")[0].message).not.toBeNull();
    const seconds = Number(m![1]);
    expect(seconds).toBeGreaterThanOrEqual(1.2);
    expect(seconds * 1000).toBeLessThanOrEqual(r.events.at(-1).duration_ms + 100);
  });
});
