import { APIConnectionError, APIError } from "@anthropic-ai/sdk";
import { describe, expect, it } from "vitest";
import { classifyProviderError, StreamBrokenError, StreamIncompleteError, StreamStalledError } from "../../src/provider/errors.js";

/**
 * provider/errors.ts on the SDK's own error classes (as the SDK builds them from a fetch
 * failure or an HTTP answer): what is asked again, what stops with which fix. The e2e
 * tests (test/e2e/provider-errors.test.ts) show the common cases over real sockets; these
 * cover the codes a test machine cannot easily produce.
 */
const BASE = "https://api.anthropic.com";
const connection = (code: string, extra: Record<string, unknown> = {}) =>
  new APIConnectionError({ cause: new TypeError("fetch failed", { cause: Object.assign(new Error(`${code}: something`), { code, ...extra }) }) });
const http = (status: number, body?: object, headers: Record<string, string> = {}) => APIError.generate(status, body, body ? undefined : "plain text", new Headers(headers));

const verdict = (err: unknown, env: NodeJS.ProcessEnv = {}, base = BASE) => classifyProviderError(err, base, env);
const stopped = (err: unknown, env: NodeJS.ProcessEnv = {}, base = BASE) => {
  const v = verdict(err, env, base);
  if (v.retry) throw new Error(`expected a permanent error, got a retry: ${v.message}`);
  return v.error;
};

describe("asked again", () => {
  for (const [label, err] of [
    ["a refused connection", connection("ECONNREFUSED")],
    ["a reset", connection("ECONNRESET")],
    ["a temporary DNS failure", connection("EAI_AGAIN", { hostname: "api.anthropic.com" })],
    ["HTTP 429", http(429, { type: "error", error: { type: "rate_limit_error", message: "slow down" } })],
    ["HTTP 529", http(529, { type: "error", error: { type: "overloaded_error", message: "Overloaded" } })],
    ["HTTP 500", http(500, { type: "error", error: { type: "api_error", message: "oops" } })],
    ["a stall", new StreamStalledError("api.anthropic.com", 1000, true)],
    ["a stream without message_stop", new StreamBrokenError(new StreamIncompleteError("api.anthropic.com", "the response stream ended without message_stop"))],
    ["a proxy's 502 to the CONNECT", new APIConnectionError({ cause: new Error("Proxy response (502) !== 200 when HTTP Tunneling") })],
  ] as const) {
    it(label, () => expect(verdict(err, label.includes("proxy") ? { HTTPS_PROXY: "http://proxy:3128" } : {}).retry).toBe(true));
  }
});

describe("permanent, with the fix", () => {
  it("TLS: an unknown CA names NODE_EXTRA_CA_CERTS", () => {
    for (const code of ["UNABLE_TO_VERIFY_LEAF_SIGNATURE", "SELF_SIGNED_CERT_IN_CHAIN", "UNABLE_TO_GET_ISSUER_CERT_LOCALLY", "DEPTH_ZERO_SELF_SIGNED_CERT"]) {
      const e = stopped(connection(code));
      expect(e.code).toBe("provider_error");
      expect(e.message).toBe(`cannot verify the TLS certificate of api.anthropic.com (${code}): it is not signed by a certificate authority this machine trusts`);
      expect(e.hint).toMatch(/NODE_EXTRA_CA_CERTS/);
    }
  });

  it("TLS: an expired certificate names the clock; a name mismatch names the host", () => {
    expect(stopped(connection("CERT_HAS_EXPIRED")).hint).toMatch(/clock/);
    const mismatch = stopped(connection("ERR_TLS_CERT_ALTNAME_INVALID"));
    expect(mismatch.message).toMatch(/is not for that host name \(ERR_TLS_CERT_ALTNAME_INVALID\)/);
    expect(mismatch.hint).toMatch(/ANTHROPIC_BASE_URL/);
  });

  it("TLS through a proxy names the proxy too", () => {
    expect(stopped(connection("SELF_SIGNED_CERT_IN_CHAIN"), { HTTPS_PROXY: "http://user:pw@proxy.corp:3128" }).message).toContain("api.anthropic.com (through the proxy http://proxy.corp:3128)");
  });

  it("DNS: the API host, a custom base URL, the proxy host", () => {
    expect(stopped(connection("ENOTFOUND", { hostname: "api.anthropic.com" })).hint).toMatch(/DNS settings and network, or set HTTPS_PROXY/);
    expect(stopped(connection("ENOTFOUND", { hostname: "llm.internal" }), {}, "https://llm.internal").hint).toMatch(/ANTHROPIC_BASE_URL/);
    const proxied = stopped(connection("ENOTFOUND", { hostname: "proxy.corp" }), { https_proxy: "http://proxy.corp:3128" });
    expect(proxied.message).toBe("the proxy host proxy.corp (from https_proxy) does not resolve (ENOTFOUND)");
  });

  it("a proxy's 407, and its 401 without the API's body: the proxy's login, never the API key", () => {
    const env = { http_proxy: "http://proxy.corp:3128" };
    for (const err of [http(407, undefined, { "proxy-authenticate": "Basic" }), http(401), new APIConnectionError({ cause: new Error("Proxy Authentication Required (407)") })]) {
      const e = stopped(err, env, "http://llm.internal");
      expect(e.code).toBe("provider_error");
      expect(e.message).toMatch(/^the proxy http:\/\/proxy\.corp:3128 \(from http_proxy\) requires authentication \(HTTP 40[17]\)/);
      expect(e.hint).toBe("give the proxy's user and password in the URL: http_proxy=http://USER:PASSWORD@proxy.corp:3128 (percent-encode special characters, e.g. @ as %40)");
    }
  });

  it("the API's own 401/403 is the credential's, proxy or not", () => {
    const body = { type: "error", error: { type: "authentication_error", message: "invalid x-api-key" } };
    expect(stopped(http(401, body), { HTTPS_PROXY: "http://proxy.corp:3128" })).toMatchObject({ code: "invalid_credentials", message: expect.stringContaining("the API rejected ANTHROPIC_API_KEY") });
    expect(stopped(http(403, { type: "error", error: { type: "permission_error", message: "no" } }))).toMatchObject({ code: "invalid_credentials" });
  });

  it("other 4xx: the API's message", () => {
    expect(stopped(http(400, { type: "error", error: { type: "invalid_request_error", message: "prompt is too long" } })).message).toBe("HTTP 400 invalid_request_error: prompt is too long");
  });
});
