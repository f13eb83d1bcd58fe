import { describe, expect, it } from "vitest";
import { networkPolicy, retryAfterMs, retryDelayMs } from "../../src/provider/retry.js";
import { readCredential } from "../../src/provider/credentials.js";
import { proxyFor } from "../../src/provider/upstream-proxy.js";

const headers = (h: Record<string, string>) => ({ headers: new Headers(h) });

describe("network policy defaults (docs/reliability.md)", () => {
  it("caps retry-after at 60 s and backs off 1 s, 2 s, 4 s… without one", () => {
    const p = networkPolicy({});
    expect(retryDelayMs(headers({ "retry-after": "3600" }), 1, p)).toBe(60_000);
    expect(retryDelayMs(headers({ "retry-after-ms": "250" }), 1, p)).toBe(250);
    expect(retryDelayMs(new Error("x"), 1, p)).toBe(1000);
    expect(retryDelayMs(new Error("x"), 3, p)).toBe(4000);
    expect(retryAfterMs(headers({ "retry-after": new Date(Date.now() + 5000).toUTCString() }))).toBeGreaterThan(3000);
  });

  it("a dead provider ends a turn within 2 minutes; no silence over 15 s", () => {
    const p = networkPolicy({});
    expect(p.totalMs).toBeLessThanOrEqual(120_000);
    expect(p.heartbeatMs).toBeLessThanOrEqual(15_000);
    expect(p.requestTimeoutMs).toBeLessThanOrEqual(p.totalMs);
  });
});

describe("credentials and proxies from the environment", () => {
  it("trims a trailing newline, never returns a key with inner spaces or non-ASCII", () => {
    expect(readCredential({ ANTHROPIC_API_KEY: "sk-ant-abc\n" })).toEqual({ variable: "ANTHROPIC_API_KEY", apiKey: "sk-ant-abc" });
    expect(() => readCredential({ ANTHROPIC_API_KEY: "sk-ant-…" })).toThrow(/ANTHROPIC_API_KEY contains a non-ASCII character .* at position 8 of 8/);
    // An empty API key next to a token: the token is the one meant.
    expect(readCredential({ ANTHROPIC_API_KEY: "", ANTHROPIC_AUTH_TOKEN: "tok" })).toEqual({ variable: "ANTHROPIC_AUTH_TOKEN", authToken: "tok" });
    expect(() => readCredential({ ANTHROPIC_API_KEY: "" })).toThrow(/ANTHROPIC_API_KEY is empty/);
  });

  it("picks the proxy as curl does", () => {
    expect(proxyFor("https://api.anthropic.com", { HTTPS_PROXY: "http://p:1" })).toBe("http://p:1");
    expect(proxyFor("https://api.anthropic.com", { HTTP_PROXY: "http://p:1" })).toBeUndefined();
    expect(proxyFor("https://api.anthropic.com", { https_proxy: "http://lower:1", HTTPS_PROXY: "http://upper:1", no_proxy: "x" })).toBe("http://lower:1");
    expect(proxyFor("http://127.0.0.1:9", { ALL_PROXY: "http://all:1" })).toBe("http://all:1");
  });
});
