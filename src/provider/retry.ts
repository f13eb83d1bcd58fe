import { proxyFor } from "./proxy.js";

/**
 * How pod waits on the provider, in one place (docs/reliability.md has the table).
 * Every retry is pod's own (the SDK's are off for turns), so each wait is announced
 * with a `turn_retry` line, and a dead provider ends a turn within `totalMs`.
 */
export interface NetworkPolicy {
  /** From sending a request to its first stream event (connect, TLS, headers, first byte). */
  requestTimeoutMs: number;
  /** Longest gap between two stream events once the response is flowing. */
  idleTimeoutMs: number;
  /** Retries per turn after the first attempt. */
  maxRetries: number;
  /** Backoff: base, doubling per retry, capped at maxBackoffMs. */
  baseMs: number;
  maxBackoffMs: number;
  /** `retry-after` is honoured up to this. */
  retryAfterMaxMs: number;
  /** A turn gives up once its retries would wait past this (counted from the last attempt that made progress). */
  totalMs: number;
  /** While waiting on the provider, a `waiting` line after this much silence on stdout. */
  heartbeatMs: number;
}

export function networkPolicy(env: NodeJS.ProcessEnv = process.env): NetworkPolicy {
  const num = (name: string, d: number) => {
    const v = env[name];
    return v !== undefined && v.trim() !== "" && Number.isFinite(Number(v)) && Number(v) >= 0 ? Number(v) : d;
  };
  return {
    requestTimeoutMs: num("POD_REQUEST_TIMEOUT_MS", 30_000),
    idleTimeoutMs: num("POD_STREAM_IDLE_TIMEOUT_MS", 60_000),
    // POD_STREAM_RETRIES is the older name for the same limit.
    maxRetries: num("POD_MAX_RETRIES", num("POD_STREAM_RETRIES", 4)),
    baseMs: num("POD_RETRY_BASE_MS", 1000),
    maxBackoffMs: 30_000,
    retryAfterMaxMs: num("POD_RETRY_AFTER_MAX_MS", 60_000),
    totalMs: num("POD_RETRY_TOTAL_MS", 120_000),
    heartbeatMs: Math.max(10, num("POD_HEARTBEAT_MS", 15_000)),
  };
}

/** The wait before retry number `retry` (1-based): the server's retry-after (capped), else backoff. */
export function retryDelayMs(err: unknown, retry: number, policy: NetworkPolicy): number {
  const asked = retryAfterMs(err);
  if (asked !== undefined) return Math.min(asked, policy.retryAfterMaxMs);
  return Math.min(policy.baseMs * 2 ** (retry - 1), policy.maxBackoffMs);
}

/** `retry-after-ms` or `retry-after` (seconds or an HTTP date) of an API error, if any. */
export function retryAfterMs(err: unknown, now = Date.now()): number | undefined {
  const headers = (err as { headers?: { get?(name: string): string | null } } | null)?.headers;
  if (!headers || typeof headers.get !== "function") return undefined;
  const ms = Number(headers.get("retry-after-ms") ?? NaN);
  if (Number.isFinite(ms) && ms >= 0) return ms;
  const raw = headers.get("retry-after");
  if (raw == null || raw.trim() === "") return undefined;
  const seconds = Number(raw);
  if (Number.isFinite(seconds) && seconds >= 0) return seconds * 1000;
  const date = Date.parse(raw);
  return Number.isFinite(date) ? Math.max(0, date - now) : undefined;
}

/** host[:port] of the API pod talks to, for messages. */
export function apiHost(baseUrl: string): string {
  try {
    return new URL(baseUrl).host;
  } catch {
    return baseUrl;
  }
}

/**
 * What went wrong on the way to the API, naming the host and the cause: the SDK's own
 * "Connection error." says neither. Walks the `cause` chain (SDK → fetch → socket) for
 * the system error code (ECONNREFUSED, ENOTFOUND, ECONNRESET, UND_ERR_*…) and message.
 */
export function describeConnectionError(err: unknown, baseUrl: string, env: NodeJS.ProcessEnv = process.env): string | undefined {
  // The SDK tags its error classes with _errorName, which survives minification (class names do not).
  const name = (err as { constructor?: { _errorName?: string } } | null)?.constructor?._errorName ?? "";
  if (name !== "APIConnectionError" && name !== "APIConnectionTimeoutError") return undefined;
  const host = apiHost(baseUrl);
  const via = proxyFor(baseUrl, env);
  const where = via ? `${host} (through the proxy ${safeOrigin(via)})` : host;
  if (name === "APIConnectionTimeoutError") return `no response from ${where}: the request timed out`;
  const causes: string[] = [];
  let codes: string[] = [];
  for (let c: unknown = (err as { cause?: unknown }).cause, depth = 0; c && depth < 6; c = (c as { cause?: unknown }).cause, depth++) {
    const e = c as { code?: unknown; message?: unknown; errors?: unknown };
    if (typeof e.code === "string") codes.push(e.code);
    // Happy-eyeballs failures are an AggregateError of one error per address.
    if (Array.isArray(e.errors)) for (const x of e.errors) if (typeof (x as { code?: unknown }).code === "string") codes.push((x as { code: string }).code);
    if (typeof e.message === "string" && e.message && e.message !== "fetch failed") causes.push(e.message);
  }
  codes = [...new Set(codes)];
  const detail = [codes.join("/"), causes.at(-1)].filter(Boolean).join(": ");
  return `cannot reach ${where}${detail ? `: ${detail}` : `: ${(err as Error).message}`}${hintFor(codes, !!via)}`;
}

function hintFor(codes: string[], proxied: boolean): string {
  if (codes.includes("ENOTFOUND") || codes.includes("EAI_AGAIN")) return " (DNS lookup failed: check the host name and the network)";
  if (codes.includes("ECONNREFUSED")) return proxied ? " (connection refused: is the proxy running?)" : " (connection refused: nothing listens there; check ANTHROPIC_BASE_URL or set HTTPS_PROXY)";
  if (codes.some((c) => c.startsWith("CERT_") || c.includes("CERT") || c === "DEPTH_ZERO_SELF_SIGNED_CERT")) return " (TLS certificate problem: set NODE_EXTRA_CA_CERTS for a corporate CA)";
  return "";
}

function safeOrigin(url: string): string {
  try {
    return new URL(url).origin;
  } catch {
    return "(unparsable proxy URL)";
  }
}
