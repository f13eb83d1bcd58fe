// What went wrong between pod and the provider, said so a person can fix it, and whether
// asking again can help (docs/reliability.md, "What is retried"). Pure: the error and the
// environment in, a verdict out; the run loop decides what to do with it.
//
// May import: errors.ts, redact/, credentials.ts, upstream-proxy.ts (its exported API only).
import { PodError } from "../errors.js";
import { Redactor, redactKeyShapes } from "../redact/redactor.js";
import { rejectedCredential } from "./credentials.js";
import { proxyFor, proxyVariable } from "./upstream-proxy.js";
import { hostEnv } from "../env-config.js";

/** A stream that failed after it had started delivering events. */
export class StreamBrokenError extends Error {
  constructor(override readonly cause: unknown) {
    super(cause instanceof Error ? cause.message : String(cause));
  }
}

/** No event for too long: before the first one (connect, headers, first byte) or between two. */
export class StreamStalledError extends Error {
  constructor(host: string, ms: number, midStream: boolean) {
    super(
      midStream
        ? `the response stream from ${host} stalled: no data for ${seconds(ms)} (POD_STREAM_IDLE_TIMEOUT_MS)`
        : `no response from ${host} within ${seconds(ms)} (POD_REQUEST_TIMEOUT_MS)`,
    );
  }
}

/**
 * The stream closed cleanly before message_stop (a proxy, a load balancer, an idle
 * timeout): what arrived is not a response. Asked again like a dropped connection.
 */
export class StreamIncompleteError extends Error {
  constructor(host: string, detail: string) {
    super(`${detail} (from ${host})`);
  }
}

/** What the run loop does with a failed attempt: ask again, or stop with this error. */
export type Verdict = { retry: true; message: string } | { retry: false; error: PodError };

/**
 * Classifies a failed request by what can help. Permanent (asking again cannot help):
 * the API refusing the credential (401/403), a proxy asking for credentials (407, or a
 * 401 that is not the API's), a TLS certificate problem, a host name that does not
 * resolve, and other 4xx answers. Transient: refused, dropped or stalled connections,
 * broken or malformed streams, overload and server errors (408/409/429/5xx).
 */
export function classifyProviderError(err: unknown, baseUrl: string, env: NodeJS.ProcessEnv = hostEnv()): Verdict {
  const inner = err instanceof StreamBrokenError ? err.cause : err;
  const message = describeProviderError(err, baseUrl, env);
  const proxy = proxyAuthProblem(inner, baseUrl, env);
  if (proxy) return { retry: false, error: proxy };
  const status = (inner as { status?: unknown } | null)?.status;
  if (status === 401 || status === 403) return { retry: false, error: rejectedCredential(status, message, env) };
  const network = permanentNetworkProblem(inner, baseUrl, env);
  if (network) return { retry: false, error: network };
  if (isTransient(err)) return { retry: true, message };
  return { retry: false, error: new PodError("provider_error", message) };
}

/**
 * Whether asking again may succeed, by the error alone: refused, dropped or stalled
 * connections, malformed stream data, overload and server errors (HTTP 408/409/429/5xx).
 * Not: bad requests, auth, unknown model. (classifyProviderError adds what needs the
 * environment: proxies, certificates, DNS.)
 */
export function isTransient(err: unknown): boolean {
  if (err instanceof StreamBrokenError) return isTransient(err.cause);
  if (err instanceof StreamStalledError || err instanceof StreamIncompleteError || err instanceof SyntaxError) return true;
  const e = err as { status?: number; error?: { error?: { type?: string } } };
  if (typeof e.status === "number") return e.status === 408 || e.status === 409 || e.status === 429 || e.status >= 500;
  const type = e.error?.error?.type;
  if (type) return type === "overloaded_error" || type === "api_error" || type === "rate_limit_error";
  return true; // no status: the connection broke or the stream ended early
}

/**
 * The message of a provider error, without anything that could carry the API key.
 * A connection failure names the host (and the proxy) and the cause.
 */
export function describeProviderError(err: unknown, baseUrl?: string, env: NodeJS.ProcessEnv = hostEnv()): string {
  if (err instanceof StreamBrokenError) return describeProviderError(err.cause, baseUrl, env);
  const connection = baseUrl === undefined ? undefined : describeConnectionError(err, baseUrl, env);
  if (connection) return redact(connection, env);
  const e = err as { status?: number; message?: string; error?: { error?: { message?: string; type?: string } } };
  const inner = e.error?.error;
  const text = inner?.message ? `${inner.type ?? "error"}: ${inner.message}` : (e.message ?? String(err));
  return redact(e.status ? `HTTP ${e.status} ${text}` : text, env);
}

/** Removes anything that looks like an Anthropic key, and the provider's credentials themselves (src/redact/). */
export function redact(text: string, env: NodeJS.ProcessEnv = hostEnv()): string {
  return redactKeyShapes(Redactor.fromEnv(env, []).text(text));
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
export function describeConnectionError(err: unknown, baseUrl: string, env: NodeJS.ProcessEnv = hostEnv()): string | undefined {
  const name = sdkErrorName(err);
  if (name !== "APIConnectionError" && name !== "APIConnectionTimeoutError") return undefined;
  const host = apiHost(baseUrl);
  const via = proxyFor(baseUrl, env);
  const where = via ? `${host} (through the proxy ${safeOrigin(via)})` : host;
  if (name === "APIConnectionTimeoutError") return `no response from ${where}: the request timed out`;
  const { codes, causes } = causeChain(err);
  const detail = [codes.join("/"), causes.at(-1)].filter(Boolean).join(": ");
  return `cannot reach ${where}${detail ? `: ${detail}` : `: ${(err as Error).message}`}${hintFor(codes, !!via)}`;
}

// The SDK tags its error classes with _errorName, which survives minification (class names do not).
function sdkErrorName(err: unknown): string {
  return (err as { constructor?: { _errorName?: string } } | null)?.constructor?._errorName ?? "";
}

/** The system error codes (ECONNREFUSED, CERT_HAS_EXPIRED…), messages and host names along an error's `cause` chain. */
function causeChain(err: unknown): { codes: string[]; causes: string[]; hostnames: string[] } {
  const codes: string[] = [];
  const causes: string[] = [];
  const hostnames: string[] = [];
  for (let c: unknown = (err as { cause?: unknown }).cause, depth = 0; c && depth < 6; c = (c as { cause?: unknown }).cause, depth++) {
    const e = c as { code?: unknown; message?: unknown; errors?: unknown; hostname?: unknown };
    if (typeof e.code === "string") codes.push(e.code);
    if (typeof e.hostname === "string") hostnames.push(e.hostname);
    // Happy-eyeballs failures are an AggregateError of one error per address.
    if (Array.isArray(e.errors)) for (const x of e.errors) if (typeof (x as { code?: unknown }).code === "string") codes.push((x as { code: string }).code);
    if (typeof e.message === "string" && e.message && e.message !== "fetch failed") causes.push(e.message);
  }
  return { codes: [...new Set(codes)], causes, hostnames };
}

function hintFor(codes: string[], proxied: boolean): string {
  if (codes.includes("ENOTFOUND")) return " (the host name does not resolve)";
  if (codes.includes("EAI_AGAIN")) return " (DNS lookup failed for now: check the network)";
  if (codes.includes("ECONNREFUSED")) return proxied ? " (connection refused: is the proxy running?)" : " (connection refused: nothing listens there; check ANTHROPIC_BASE_URL or set HTTPS_PROXY)";
  if (tlsProblem(codes)) return " (TLS certificate problem)";
  return "";
}

/** Node's and OpenSSL's codes for a certificate that cannot be trusted for the host. */
const TLS_CODES = new Set([
  "UNABLE_TO_VERIFY_LEAF_SIGNATURE",
  "UNABLE_TO_GET_ISSUER_CERT",
  "UNABLE_TO_GET_ISSUER_CERT_LOCALLY",
  "SELF_SIGNED_CERT_IN_CHAIN",
  "DEPTH_ZERO_SELF_SIGNED_CERT",
  "CERT_HAS_EXPIRED",
  "CERT_NOT_YET_VALID",
  "CERT_UNTRUSTED",
  "CERT_REJECTED",
  "CERT_SIGNATURE_FAILURE",
  "ERR_TLS_CERT_ALTNAME_INVALID",
  "HOSTNAME_MISMATCH",
]);

function tlsProblem(codes: readonly string[]): string | undefined {
  return codes.find((c) => TLS_CODES.has(c) || c.startsWith("CERT_") || c.startsWith("ERR_TLS_CERT"));
}

/**
 * Network failures that will fail the same way however often they are retried: a TLS
 * certificate pod cannot trust, and a host name that does not exist (ENOTFOUND; a
 * temporary DNS failure, EAI_AGAIN, is retried). One message naming what to fix.
 */
function permanentNetworkProblem(err: unknown, baseUrl: string, env: NodeJS.ProcessEnv): PodError | undefined {
  if (sdkErrorName(err) !== "APIConnectionError") return undefined;
  const { codes, hostnames } = causeChain(err);
  const host = apiHost(baseUrl);
  const via = proxyFor(baseUrl, env);
  const tls = tlsProblem(codes);
  if (tls) {
    const where = via ? `${host} (through the proxy ${safeOrigin(via)})` : host;
    if (tls === "ERR_TLS_CERT_ALTNAME_INVALID" || tls === "HOSTNAME_MISMATCH") {
      return new PodError("provider_error", `the TLS certificate of ${where} is not for that host name (${tls})`, "check the host in ANTHROPIC_BASE_URL; a TLS-inspecting proxy must issue certificates for the host it intercepts");
    }
    if (tls === "CERT_HAS_EXPIRED" || tls === "CERT_NOT_YET_VALID") {
      return new PodError("provider_error", `the TLS certificate of ${where} is not valid now (${tls})`, "check this machine's clock; if it is right, the server's certificate must be renewed");
    }
    return new PodError(
      "provider_error",
      `cannot verify the TLS certificate of ${where} (${tls}): it is not signed by a certificate authority this machine trusts`,
      "behind a corporate or TLS-inspecting proxy, point NODE_EXTRA_CA_CERTS at that CA's certificate (PEM), e.g. `export NODE_EXTRA_CA_CERTS=/etc/ssl/certs/corp-ca.pem`; never disable verification",
    );
  }
  if (codes.includes("ENOTFOUND")) {
    const proxyHost = via ? hostOf(via) : undefined;
    // Through a proxy, the name looked up is the proxy's (it resolves the API's itself).
    if (proxyHost !== undefined && (hostnames.includes(proxyHost) || hostnames.length === 0)) {
      const variable = proxyVariableName(baseUrl, env) ?? "HTTPS_PROXY";
      return new PodError("provider_error", `the proxy host ${proxyHost} (from ${variable}) does not resolve (ENOTFOUND)`, `check the host name in ${variable}, or unset it to connect directly`);
    }
    const name = hostnames[0] ?? hostOf(baseUrl) ?? host;
    return new PodError(
      "provider_error",
      `the host name ${name} does not resolve (ENOTFOUND)`,
      baseUrl.includes("api.anthropic.com") ? "check this machine's DNS settings and network, or set HTTPS_PROXY if the network only reaches the internet through a proxy" : "check the host in ANTHROPIC_BASE_URL (a typo?), or this machine's DNS settings",
    );
  }
  return undefined;
}

/**
 * A proxy asking for credentials: HTTP 407 (on a plain request or on the CONNECT of a
 * tunnel), or a 401 through a proxy that is not the API's own answer (no Anthropic error
 * body, or a Proxy-Authenticate header). The fix is the proxy URL's user:password, never the API key.
 */
function proxyAuthProblem(err: unknown, baseUrl: string, env: NodeJS.ProcessEnv): PodError | undefined {
  const via = proxyFor(baseUrl, env);
  if (!via) return undefined;
  const e = err as { status?: unknown; error?: { type?: unknown; error?: { type?: unknown } }; headers?: { get?(name: string): string | null } } | null;
  const status = e?.status;
  const fromApi = e?.error?.type === "error" && typeof e.error.error?.type === "string";
  const asks = typeof e?.headers?.get === "function" && e.headers.get("proxy-authenticate") !== null;
  let code: number | undefined;
  if (status === 407 || (status === 401 && (asks || !fromApi))) code = status;
  else if (sdkErrorName(err) === "APIConnectionError") {
    // undici says it in words: "Proxy response (407) !== 200 when HTTP Tunneling" (the CONNECT
    // of an https tunnel), "Proxy Authentication Required (407)" (a plain-http request).
    const m = causeChain(err).causes.join("\n").match(/Proxy response \((\d{3})\)|Proxy Authentication Required \((\d{3})\)/);
    if (m && (m[1] ?? m[2]) === "407") code = 407;
  }
  if (code === undefined) return undefined;
  const variable = proxyVariableName(baseUrl, env) ?? "HTTPS_PROXY";
  const hasUser = (() => {
    try {
      return new URL(via).username !== "";
    } catch {
      return false;
    }
  })();
  const proxy = safeOrigin(via);
  return new PodError(
    "provider_error",
    hasUser
      ? `the proxy ${proxy} (from ${variable}) refused the credentials in ${variable} (HTTP ${code}): this is the proxy's login, not the API key`
      : `the proxy ${proxy} (from ${variable}) requires authentication (HTTP ${code}): this is the proxy's login, not the API key`,
    `give the proxy's user and password in the URL: ${variable}=http://USER:PASSWORD@${hostOf(via) ?? "proxy"}${portOf(via)} (percent-encode special characters, e.g. @ as %40)`,
  );
}

/** Which variable the proxy for baseUrl came from (upstream-proxy.ts decides which applies, as curl does). */
function proxyVariableName(baseUrl: string, env: NodeJS.ProcessEnv): string | undefined {
  return proxyVariable(baseUrl, env)?.name;
}

function hostOf(url: string): string | undefined {
  try {
    return new URL(url).hostname;
  } catch {
    return undefined;
  }
}

function portOf(url: string): string {
  try {
    const p = new URL(url).port;
    return p ? `:${p}` : "";
  } catch {
    return "";
  }
}

function safeOrigin(url: string): string {
  try {
    return new URL(url).origin;
  } catch {
    return "(unparsable proxy URL)";
  }
}

function seconds(ms: number): string {
  return ms >= 1000 ? `${Math.round(ms / 1000)}s` : `${ms}ms`;
}
