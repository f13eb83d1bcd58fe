import http from "node:http";
import https from "node:https";
import type { AddressInfo, Socket } from "node:net";
import { setTimeout as sleep } from "node:timers/promises";
import { PromptCache, type PromptCacheOptions } from "./prompt-cache.js";
import { parseScript, type FaultSpec, type Script, type Turn } from "./script.js";

export { loadFixture, type Script } from "./script.js";
export { PromptCache, minCacheableTokens, type CacheUsage, type PromptCacheOptions } from "./prompt-cache.js";

/**
 * A fake Anthropic Messages API on 127.0.0.1 that plays a scripted conversation
 * over the real SSE wire format, so tests exercise the real SDK over real HTTP.
 */
export interface FakeServer {
  url: string;
  /** Every request received, in order, with its parsed JSON body. */
  requests: RecordedRequest[];
  /** What did not match the script's expectations (or ran past its end). Tests assert it is empty. */
  mismatches: string[];
  /** When the first byte of an SSE body was written (epoch ms, high resolution), for the relay benchmark. */
  timings: { firstSseByteAt?: number };
  close(): Promise<void>;
}

export interface FakeServerOptions {
  port?: number;
  /**
   * Model Anthropic's prompt cache (see prompt-cache.ts): the usage of every response
   * then reports input_tokens and cache_read/cache_creation_input_tokens as the real
   * API would for the request's cache_control breakpoints, instead of the script's
   * figures (output_tokens still come from the script). More than 4 breakpoints is a
   * 400 either way, as on the real API.
   */
  promptCache?: boolean | PromptCacheOptions;
  /** Serve HTTPS with this key and certificate (PEM), e.g. test/fixtures/tls/. */
  tls?: { key: string | Buffer; cert: string | Buffer };
  /**
   * Hold every Messages answer (the request is recorded first) until this settles: a
   * provider as slow as the test needs, without a timing guess ("the run lasts longer
   * than N start-ups") that a loaded machine breaks.
   */
  gate?: Promise<unknown>;
}

export interface RecordedRequest {
  method: string;
  path: string;
  headers: Record<string, string | string[] | undefined>;
  body: any;
  /** When the request's headers arrived (epoch ms, high resolution). */
  receivedAt: number;
  /** When the last byte of the response was written (epoch ms, high resolution); unset if it never was. */
  respondedAt?: number;
  /** The usage the response reported (with promptCache, as computed by the cache model). */
  usage?: Turn["response"]["usage"];
}

type SseEvent = [type: string, data: unknown];

/** `script` is validated with zod at start (see script.ts), so plain object literals from tests are fine. */
export async function startFakeServer(script: Script | object, opts: FakeServerOptions = {}): Promise<FakeServer> {
  const turns = parseScript(script).turns;
  const requests: RecordedRequest[] = [];
  const mismatches: string[] = [];
  const sockets = new Set<Socket>();
  let next = 0;
  const faultsServed = new Map<number, number>();
  const timings: FakeServer["timings"] = {};
  let messageCount = 0;
  const cache = new PromptCache(typeof opts.promptCache === "object" ? opts.promptCache : {});

  const handler = async (req: http.IncomingMessage, res: http.ServerResponse) => {
    const receivedAt = performance.timeOrigin + performance.now();
    const raw = await readBody(req);
    let body: any = undefined;
    try {
      body = raw.length ? JSON.parse(raw) : undefined;
    } catch {
      body = raw;
    }
    const record: RecordedRequest = { method: req.method ?? "", path: req.url ?? "", headers: { ...req.headers }, body, receivedAt };
    requests.push(record);
    res.on("finish", () => (record.respondedAt = performance.timeOrigin + performance.now()));
    const id = ++messageCount;
    res.setHeader("request-id", `req_fake_${id}`);

    const url = (req.url ?? "").split("?")[0];
    if (req.method === "POST" && url === "/v1/messages/count_tokens") {
      return json(res, 200, { input_tokens: Math.round(raw.length / 4) });
    }
    if (req.method !== "POST" || url !== "/v1/messages") {
      return json(res, 404, { type: "error", error: { type: "not_found_error", message: `fake-server: no route ${req.method} ${url}` } });
    }

    if (opts.gate) await opts.gate;
    const index = next;
    let turn = turns[index];
    if (!turn) {
      mismatches.push(`request ${requests.length}: script exhausted after ${turns.length} turns`);
      return respond(res, body, exhaustedTurn(), id);
    }
    const invalid = thinkingProblem(body);
    if (invalid) {
      mismatches.push(`request ${requests.length}: ${invalid}`);
      return json(res, 400, { type: "error", error: { type: "invalid_request_error", message: invalid } });
    }
    const problem = checkExpect(turn, body);
    if (problem) {
      mismatches.push(`turn ${index + 1}: ${problem}`);
      return json(res, 400, { type: "error", error: { type: "invalid_request_error", message: `fake-server: ${problem}` } });
    }
    const faulting = turn.fault && (faultsServed.get(index) ?? 0) < turn.fault.times;
    if (!(faulting && turn.fault!.kind === "http")) {
      // The API validates and reads/writes the cache once it accepts the request.
      const outcome = cache.process(body);
      if (!outcome.ok) {
        mismatches.push(`turn ${index + 1}: ${outcome.message}`);
        return json(res, outcome.status, { type: "error", error: { type: "invalid_request_error", message: outcome.message } });
      }
      if (opts.promptCache) turn = { ...turn, response: { ...turn.response, usage: { ...turn.response.usage, ...outcome.usage } } };
    }
    record.usage = turn.response.usage;
    if (faulting) {
      faultsServed.set(index, (faultsServed.get(index) ?? 0) + 1);
      return serveFault(res, turn, turn.fault!, body, id);
    }
    next++;
    return respond(res, body, turn, id, timings);
  };
  const server = opts.tls ? https.createServer({ key: opts.tls.key, cert: opts.tls.cert }, handler) : http.createServer(handler);
  server.on("connection", (s: Socket) => {
    sockets.add(s);
    s.on("close", () => sockets.delete(s));
  });
  await new Promise<void>((resolve) => server.listen(opts.port ?? 0, "127.0.0.1", resolve));
  const { port } = server.address() as AddressInfo;

  return {
    url: `${opts.tls ? "https" : "http"}://127.0.0.1:${port}`,
    requests,
    mismatches,
    timings,
    close: () =>
      new Promise<void>((resolve) => {
        for (const s of sockets) s.destroy();
        server.close(() => resolve());
      }),
  };
}

function exhaustedTurn(): Turn {
  return {
    response: { content: [{ type: "text", text: "fake-server: script exhausted" }], stop_reason: "end_turn", usage: { input_tokens: 1, output_tokens: 1, cache_read_input_tokens: 0, cache_creation_input_tokens: 0 } },
    delivery: { chunk_bytes: 50, delay_ms: 0, ping_every: 0, text_split: 64 },
  };
}

function readBody(req: http.IncomingMessage): Promise<string> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    req.on("data", (c: Buffer) => chunks.push(c));
    req.on("end", () => resolve(Buffer.concat(chunks).toString("utf8")));
    req.on("error", reject);
  });
}

function json(res: http.ServerResponse, status: number, body: unknown, headers: Record<string, string> = {}) {
  res.writeHead(status, { "content-type": "application/json", ...headers });
  res.end(JSON.stringify(body));
}

function lastUser(body: any): any {
  const msgs: any[] = Array.isArray(body?.messages) ? body.messages : [];
  return [...msgs].reverse().find((m) => m.role === "user");
}

function blocksOf(message: any): any[] {
  if (!message) return [];
  return typeof message.content === "string" ? [{ type: "text", text: message.content }] : (message.content ?? []);
}

function checkExpect(turn: Turn, body: any): string | undefined {
  const e = turn.expect;
  if (!e) return undefined;
  if (e.model !== undefined && body?.model !== e.model) return `expected model ${e.model}, got ${body?.model}`;
  if (e.last_user_text_includes !== undefined) {
    const text = blocksOf(lastUser(body))
      .filter((b) => b.type === "text")
      .map((b) => b.text)
      .join("\n");
    if (!text.includes(e.last_user_text_includes)) return `expected the last user text to include ${JSON.stringify(e.last_user_text_includes)}, got ${JSON.stringify(text.slice(0, 200))}`;
  }
  if (e.tool_result_for !== undefined) {
    const found = blocksOf(lastUser(body)).some((b) => b.type === "tool_result" && b.tool_use_id === e.tool_result_for);
    if (!found) return `expected a tool_result for ${e.tool_result_for} in the last user message`;
  }
  if (e.has_tools !== undefined) {
    const names = new Set((body?.tools ?? []).map((t: any) => t.name));
    const missing = e.has_tools.filter((n) => !names.has(n));
    if (missing.length) return `expected tools ${missing.join(", ")} in the request`;
  }
  if (e.system_includes !== undefined) {
    const system = typeof body?.system === "string" ? body.system : JSON.stringify(body?.system ?? "");
    if (!system.includes(e.system_includes)) return `expected the system prompt to include ${JSON.stringify(e.system_includes)}`;
  }
  return undefined;
}

/**
 * The API's own checks of extended thinking: a budget of at least 1024 below max_tokens,
 * and, with thinking on, an assistant message that ends in tool use (the last one, in a
 * tool loop) must start with its thinking block as it was streamed.
 */
function thinkingProblem(body: any): string | undefined {
  const t = body?.thinking;
  if (!t) return undefined;
  if (t.type === "enabled") {
    if (!(t.budget_tokens >= 1024)) return "thinking.enabled.budget_tokens: Input should be greater than or equal to 1024";
    if (!(body.max_tokens > t.budget_tokens)) return "`max_tokens` must be greater than `thinking.budget_tokens`";
  }
  if (t.type !== "enabled" && t.type !== "adaptive") return undefined;
  const msgs: any[] = Array.isArray(body?.messages) ? body.messages : [];
  const lastAssistant = [...msgs].reverse().find((m) => m.role === "assistant");
  const blocks = blocksOf(lastAssistant);
  if (lastAssistant && blocks.some((b) => b.type === "tool_use") && !["thinking", "redacted_thinking"].includes(blocks[0]?.type)) {
    return `messages.${msgs.lastIndexOf(lastAssistant)}.content.0.type: Expected \`thinking\` or \`redacted_thinking\`, but found \`${blocks[0]?.type}\`. When \`thinking\` is enabled, a final \`assistant\` message must start with a thinking block.`;
  }
  for (const b of blocks) if (b.type === "thinking" && (typeof b.signature !== "string" || b.signature === "")) return "thinking block without a signature";
  return undefined;
}

function messageObject(turn: Turn, body: any, id: number, content: unknown[], stopReason: string | null, outputTokens: number) {
  const u = turn.response.usage;
  return {
    id: `msg_fake_${id}`,
    type: "message",
    role: "assistant",
    model: body?.model ?? "unknown",
    content,
    stop_reason: stopReason,
    stop_sequence: null,
    usage: {
      input_tokens: u.input_tokens,
      output_tokens: outputTokens,
      cache_read_input_tokens: u.cache_read_input_tokens,
      cache_creation_input_tokens: u.cache_creation_input_tokens,
    },
  };
}

function split(text: string, size: number): string[] {
  const parts: string[] = [];
  for (let i = 0; i < text.length; i += size) parts.push(text.slice(i, i + size));
  return parts.length ? parts : [""];
}

/** The SSE events of a scripted response, exactly as the Messages API streams them. */
export function sseEvents(turn: Turn, body: any, id: number): SseEvent[] {
  const { content, stop_reason, usage } = turn.response;
  const { ping_every, text_split } = turn.delivery;
  const events: SseEvent[] = [["message_start", { type: "message_start", message: messageObject(turn, body, id, [], null, 1) }]];
  const push = (e: SseEvent) => {
    events.push(e);
    if (ping_every > 0 && events.length % ping_every === 0) events.push(["ping", { type: "ping" }]);
  };
  content.forEach((block, index) => {
    if (block.type === "text") {
      push(["content_block_start", { type: "content_block_start", index, content_block: { type: "text", text: "" } }]);
      for (const piece of split(block.text, text_split)) {
        push(["content_block_delta", { type: "content_block_delta", index, delta: { type: "text_delta", text: piece } }]);
      }
    } else if (block.type === "thinking") {
      push(["content_block_start", { type: "content_block_start", index, content_block: { type: "thinking", thinking: "", signature: "" } }]);
      for (const piece of block.thinking ? split(block.thinking, text_split) : []) {
        push(["content_block_delta", { type: "content_block_delta", index, delta: { type: "thinking_delta", thinking: piece } }]);
      }
      push(["content_block_delta", { type: "content_block_delta", index, delta: { type: "signature_delta", signature: block.signature } }]);
    } else if (block.type === "redacted_thinking") {
      push(["content_block_start", { type: "content_block_start", index, content_block: { type: "redacted_thinking", data: block.data } }]);
    } else if (block.type === "tool_use_cut") {
      push(["content_block_start", { type: "content_block_start", index, content_block: { type: "tool_use", id: block.id, name: block.name, input: {} } }]);
      for (const piece of split(block.partial_json, text_split)) {
        push(["content_block_delta", { type: "content_block_delta", index, delta: { type: "input_json_delta", partial_json: piece } }]);
      }
      return; // cut: the block never ends
    } else {
      push(["content_block_start", { type: "content_block_start", index, content_block: { type: "tool_use", id: block.id, name: block.name, input: {} } }]);
      for (const piece of split(JSON.stringify(block.input), text_split)) {
        push(["content_block_delta", { type: "content_block_delta", index, delta: { type: "input_json_delta", partial_json: piece } }]);
      }
    }
    push(["content_block_stop", { type: "content_block_stop", index }]);
  });
  push([
    "message_delta",
    {
      type: "message_delta",
      delta: { stop_reason, stop_sequence: null },
      usage: {
        input_tokens: usage.input_tokens,
        output_tokens: usage.output_tokens,
        cache_read_input_tokens: usage.cache_read_input_tokens,
        cache_creation_input_tokens: usage.cache_creation_input_tokens,
      },
    },
  ]);
  events.push(["message_stop", { type: "message_stop" }]);
  return events;
}

function frame([type, data]: SseEvent): string {
  return `event: ${type}\ndata: ${JSON.stringify(data)}\n\n`;
}

async function writeChunked(res: http.ServerResponse, text: string, turn: Turn, timings?: FakeServer["timings"]): Promise<boolean> {
  const buf = Buffer.from(text, "utf8");
  const { chunk_bytes, delay_ms } = turn.delivery;
  for (let i = 0; i < buf.length; i += chunk_bytes) {
    if (res.destroyed) return false;
    if (i === 0 && timings && timings.firstSseByteAt === undefined) timings.firstSseByteAt = performance.timeOrigin + performance.now();
    res.write(buf.subarray(i, i + chunk_bytes));
    if (delay_ms > 0) await sleep(delay_ms);
    else await new Promise((r) => setImmediate(r));
  }
  return !res.destroyed;
}

function startSse(res: http.ServerResponse) {
  res.writeHead(200, { "content-type": "text/event-stream", "cache-control": "no-cache" });
  res.flushHeaders();
}

async function respond(res: http.ServerResponse, body: any, turn: Turn, id: number, timings?: FakeServer["timings"]) {
  if (body?.stream !== true) {
    const u = turn.response.usage;
    const content = turn.response.content.map((b) => (b.type === "tool_use_cut" ? { type: "tool_use", id: b.id, name: b.name, input: {} } : b));
    return json(res, 200, { ...messageObject(turn, body, id, content, turn.response.stop_reason, u.output_tokens) });
  }
  startSse(res);
  if (await writeChunked(res, sseEvents(turn, body, id).map(frame).join(""), turn, timings)) res.end();
}

const ERROR_TYPES: Record<number, string> = {
  400: "invalid_request_error",
  401: "authentication_error",
  403: "permission_error",
  404: "not_found_error",
  413: "request_too_large",
  429: "rate_limit_error",
  500: "api_error",
  529: "overloaded_error",
};

async function serveFault(res: http.ServerResponse, turn: Turn, fault: FaultSpec, body: any, id: number) {
  if (fault.kind === "http") {
    const type = ERROR_TYPES[fault.status] ?? "api_error";
    const message = fault.message ?? (fault.status === 404 ? `model: ${body?.model}` : `fake-server: ${type}`);
    const headers: Record<string, string> = fault.retry_after_s !== undefined ? { "retry-after": String(fault.retry_after_s) } : {};
    return json(res, fault.status, { type: "error", error: { type, message } }, headers);
  }
  if (fault.kind === "hang") return; // the client's timeout or close() ends it
  const all = sseEvents(turn, body, id);
  const events = all.slice(0, fault.after_events ?? all.length - 1);
  startSse(res);
  if (!(await writeChunked(res, events.map(frame).join(""), turn))) return;
  switch (fault.kind) {
    case "sse_error":
      res.end(frame(["error", { type: "error", error: { type: "overloaded_error", message: "Overloaded" } }]));
      return;
    case "drop":
      res.socket?.destroy();
      return;
    case "malformed":
      res.end("event: content_block_delta\ndata: {not json\n\n");
      return;
    case "stall":
      return; // keep the connection open and silent until the client or close() ends it
    case "end_early":
      res.end(); // a clean end of the body: no reset, no error, just no message_stop
      return;
  }
}
