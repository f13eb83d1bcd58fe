import { hostEnv, podEnv } from "../env-config.js";
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

/** The policy from the environment's POD_* limits (src/env-config.ts has each default). */
export function networkPolicy(env: NodeJS.ProcessEnv = hostEnv()): NetworkPolicy {
  const e = podEnv(env);
  return {
    requestTimeoutMs: e.requestTimeoutMs,
    idleTimeoutMs: e.streamIdleTimeoutMs,
    maxRetries: e.maxRetries,
    baseMs: e.retryBaseMs,
    maxBackoffMs: 30_000,
    retryAfterMaxMs: e.retryAfterMaxMs,
    totalMs: e.retryTotalMs,
    heartbeatMs: Math.max(10, e.heartbeatMs),
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
