// Request bodies, stored as what changed. The Messages API is stateless: every request
// carries the whole history, so storing each body whole would make a run's recording grow
// with the square of its length (a 200-turn run sends ~20 MB in all). Each body is stored as
// the top-level keys that changed since the previous request to the same endpoint, plus the
// messages after the ones it shares with that request; rebuilt in order, it is the body that
// was sent (the same JSON values; key order aside).
import type { Endpoint, RequestRecord } from "./format.js";

type Body = Record<string, unknown>;
type Delta = Pick<RequestRecord, "body" | "unset" | "messages_kept" | "messages">;

export class DeltaEncoder {
  private readonly prev = new Map<Endpoint, { keys: Map<string, unknown>; messages: readonly unknown[] }>();

  encode(endpoint: Endpoint, body: Body): Delta {
    const p = this.prev.get(endpoint);
    const keys = new Map<string, unknown>();
    const changed: Body = {};
    for (const [k, v] of Object.entries(body)) {
      if (k === "messages" || v === undefined) continue;
      keys.set(k, v);
      if (!p?.keys.has(k) || !sameValue(p.keys.get(k), v)) changed[k] = v;
    }
    const unset = p ? [...p.keys.keys()].filter((k) => !keys.has(k)) : [];
    const messages = Array.isArray(body.messages) ? (body.messages as unknown[]) : [];
    const kept = p ? sharedPrefix(p.messages, messages) : 0;
    this.prev.set(endpoint, { keys, messages });
    return { body: changed, ...(unset.length > 0 ? { unset } : {}), messages_kept: kept, messages: messages.slice(kept) };
  }
}

export class DeltaDecoder {
  private readonly prev = new Map<Endpoint, { body: Body; messages: unknown[] }>();

  /** The whole body of this request; throws when the record does not follow the ones before it (a damaged recording). */
  decode(r: Pick<RequestRecord, "endpoint" | "n"> & Delta): Body {
    const p = this.prev.get(r.endpoint);
    const body: Body = { ...(p?.body ?? {}) };
    for (const k of r.unset ?? []) delete body[k];
    Object.assign(body, r.body);
    const before = p?.messages ?? [];
    if (r.messages_kept > before.length) throw new Error(`request ${r.n} keeps ${r.messages_kept} messages of a request that had ${before.length}`);
    const messages = [...before.slice(0, r.messages_kept), ...r.messages];
    this.prev.set(r.endpoint, { body, messages });
    return { ...body, messages };
  }
}

/**
 * How many leading messages two requests share. A request's messages are built from the
 * session's stored blocks, so an unchanged message is mostly the same block objects; the
 * few that are not (a cache breakpoint moved, a compaction summary) are compared as JSON.
 */
function sharedPrefix(a: readonly unknown[], b: readonly unknown[]): number {
  const n = Math.min(a.length, b.length);
  let i = 0;
  while (i < n && sameMessage(a[i], b[i])) i++;
  return i;
}

/**
 * A top-level value of the body unchanged since the previous request. The system prompt and
 * the tools are rebuilt each turn from the same parts (new arrays and wrappers around the
 * same strings and definitions), so one level of identity settles it nearly always, without
 * serialising ~10 KB of tool definitions a turn; JSON decides the rest.
 */
function sameValue(a: unknown, b: unknown): boolean {
  if (a === b) return true;
  if (Array.isArray(a) && Array.isArray(b) && a.length === b.length && a.every((x, i) => x === b[i] || shallowSame(x, b[i]))) return true;
  if (shallowSame(a, b)) return true;
  return JSON.stringify(a) === JSON.stringify(b);
}

function shallowSame(a: unknown, b: unknown): boolean {
  if (!a || !b || typeof a !== "object" || typeof b !== "object" || Array.isArray(a) || Array.isArray(b)) return false;
  const x = a as Record<string, unknown>;
  const y = b as Record<string, unknown>;
  const kx = Object.keys(x);
  return kx.length === Object.keys(y).length && kx.every((k) => x[k] === y[k]);
}

function sameMessage(a: unknown, b: unknown): boolean {
  if (a === b) return true;
  const x = a as { role?: unknown; content?: unknown };
  const y = b as { role?: unknown; content?: unknown };
  if (!x || !y || x.role !== y.role) return false;
  if (Array.isArray(x.content) && Array.isArray(y.content)) {
    if (x.content.length !== y.content.length) return false;
    if (x.content.every((block, i) => block === (y.content as unknown[])[i])) return true;
  }
  return JSON.stringify(a) === JSON.stringify(b);
}
