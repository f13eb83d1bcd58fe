import Anthropic from "@anthropic-ai/sdk";
import net from "node:net";
import { afterEach, describe, expect, it } from "vitest";
import { loadFixture, startFakeServer, type FakeServer } from "./fake-server/server.js";

// The fake server is test infrastructure, so it is tested against the real SDK the way pod uses it.
let server: FakeServer | undefined;
afterEach(async () => {
  await server?.close();
  server = undefined;
});

const client = (s: FakeServer, maxRetries = 0) => new Anthropic({ apiKey: "test-key", baseURL: s.url, maxRetries });
const params = { model: "claude-sonnet-5-5", max_tokens: 100, messages: [{ role: "user" as const, content: "hi" }] };

describe("fake Messages API server", () => {
  it("streams a scripted text and tool_use turn that the SDK assembles exactly", async () => {
    server = await startFakeServer(loadFixture("read-then-answer"));
    const stream = client(server).messages.stream(params);
    const kinds = new Set<string>();
    stream.on("streamEvent", (e) => kinds.add(e.type));
    const message = await stream.finalMessage();
    expect(message.content).toEqual([
      { type: "text", text: "I'll read the file.", citations: null },
      { type: "tool_use", id: "toolu_1", name: "Read", input: { path: "hello.txt" } },
    ].map((b) => (b.type === "text" ? expect.objectContaining({ type: "text", text: b.text }) : b)));
    expect(message.stop_reason).toBe("tool_use");
    expect(message.usage).toMatchObject({ input_tokens: 100, output_tokens: 20 });
    expect([...kinds]).toEqual(expect.arrayContaining(["message_start", "content_block_start", "content_block_delta", "content_block_stop", "message_delta", "message_stop"]));
    expect(server.requests[0]!.body).toMatchObject({ model: "claude-sonnet-5-5", stream: true, messages: params.messages });
    expect(JSON.stringify(server.requests[0]!.headers)).toContain("test-key");
  });

  it("splits SSE frames across writes and interleaves pings", async () => {
    const turn = { response: { content: [{ type: "text", text: "abcdefghij".repeat(5) }] }, delivery: { chunk_bytes: 3, ping_every: 2, text_split: 4 } };
    server = await startFakeServer({ turns: [turn, turn] });
    // Read the raw bytes as a client would, to see the framing the SDK has to cope with.
    const raw = await new Promise<string>((resolve, reject) => {
      const url = new URL(server!.url);
      const sock = net.connect(Number(url.port), url.hostname, () => {
        const body = JSON.stringify({ ...params, stream: true });
        sock.write(`POST /v1/messages HTTP/1.1\r\nhost: x\r\ncontent-type: application/json\r\ncontent-length: ${body.length}\r\nconnection: close\r\n\r\n${body}`);
      });
      let data = "";
      sock.on("data", (d) => (data += d.toString()));
      sock.on("end", () => resolve(data));
      sock.on("error", reject);
    });
    expect(raw).toMatch(/content-type: text\/event-stream/i);
    // Chunked transfer encoding shows each write as its own chunk: decode them.
    let rest = raw.slice(raw.indexOf("\r\n\r\n") + 4);
    const chunks: string[] = [];
    for (;;) {
      const eol = rest.indexOf("\r\n");
      const size = parseInt(rest.slice(0, eol), 16);
      if (!size) break;
      chunks.push(rest.slice(eol + 2, eol + 2 + size));
      rest = rest.slice(eol + 2 + size + 2);
    }
    expect(chunks.length).toBeGreaterThan(100);
    expect(Math.max(...chunks.map((c) => Buffer.byteLength(c)))).toBeLessThanOrEqual(3);
    const body = chunks.join("");
    expect(body).toContain('event: ping\ndata: {"type":"ping"}\n\n');
    expect(body.startsWith("event: message_start\ndata: ")).toBe(true);
    expect(body.trimEnd().endsWith('data: {"type":"message_stop"}')).toBe(true);

    const text = await client(server).messages.stream(params).finalText();
    expect(text).toBe("abcdefghij".repeat(5));
  });

  it("serves an HTTP 429 the SDK retries, then the real turn", async () => {
    server = await startFakeServer({ turns: [{ fault: { kind: "http", status: 429, retry_after_s: 0, times: 1 }, response: { content: [{ type: "text", text: "after retry" }] } }] });
    const text = await client(server, 2).messages.stream(params).finalText();
    expect(text).toBe("after retry");
    expect(server.requests).toHaveLength(2);
  });

  it("surfaces an SSE error event mid-stream as an SDK error", async () => {
    server = await startFakeServer({ turns: [{ fault: { kind: "sse_error", after_events: 3 }, response: { content: [{ type: "text", text: "partial text here" }] } }] });
    await expect(client(server).messages.stream(params).finalMessage()).rejects.toThrow(/Overloaded/);
  });

  it("records expectation mismatches and answers 400", async () => {
    server = await startFakeServer({ turns: [{ expect: { model: "other-model" }, response: { content: [{ type: "text", text: "x" }] } }] });
    await expect(client(server).messages.stream(params).finalMessage()).rejects.toThrow(/expected model other-model/);
    expect(server.mismatches).toEqual(["turn 1: expected model other-model, got claude-sonnet-5-5"]);
  });

  it("answers non-streaming requests and counts tokens", async () => {
    server = await startFakeServer(loadFixture("text-only"));
    const message = await client(server).messages.create(params);
    expect(message.content[0]).toMatchObject({ type: "text", text: "Hello from the fake model." });
    const count = await client(server).messages.countTokens({ model: params.model, messages: params.messages });
    expect(count.input_tokens).toBeGreaterThan(0);
  });

  it("records running past the end of the script", async () => {
    server = await startFakeServer({ turns: [] });
    expect(await client(server).messages.stream(params).finalText()).toBe("fake-server: script exhausted");
    expect(server.mismatches).toHaveLength(1);
  });
});

describe("fake Messages API server: prompt cache", () => {
  // ~1,500 tokens at 4 characters a token: above Sonnet's 1,024-token minimum.
  const bigSystem = "You are a careful agent. ".repeat(240);
  const cc = { type: "ephemeral" as const };
  const reply = { response: { content: [{ type: "text", text: "ok" }], usage: { output_tokens: 7 } } };
  const turns = (n: number) => ({ turns: Array.from({ length: n }, () => reply) });
  const ask = async (s: FakeServer, body: object) => {
    const stream = client(s).messages.stream({ model: "claude-sonnet-5-5", max_tokens: 100, ...body } as any);
    const starts: any[] = [];
    const deltas: any[] = [];
    stream.on("streamEvent", (e: any) => (e.type === "message_start" ? starts.push(e.message.usage) : e.type === "message_delta" ? deltas.push(e.usage) : undefined));
    const m = await stream.finalMessage();
    // The real API reports the input side in message_start and again in message_delta.
    expect(starts[0]).toMatchObject({ input_tokens: m.usage.input_tokens, cache_read_input_tokens: m.usage.cache_read_input_tokens, cache_creation_input_tokens: m.usage.cache_creation_input_tokens });
    expect(deltas[0]).toMatchObject({ input_tokens: m.usage.input_tokens, cache_read_input_tokens: m.usage.cache_read_input_tokens, output_tokens: 7 });
    return m.usage;
  };

  it("writes the prefix up to a breakpoint, then reads it; input_tokens is the part after the last breakpoint", async () => {
    server = await startFakeServer(turns(2), { promptCache: true });
    const body = { system: [{ type: "text", text: bigSystem, cache_control: cc }], messages: [{ role: "user", content: "question one" }] };
    const first = await ask(server, body);
    expect(first.cache_read_input_tokens).toBe(0);
    expect(first.cache_creation_input_tokens).toBeGreaterThan(1024);
    expect(first.input_tokens).toBeGreaterThan(0);
    expect(first.input_tokens).toBeLessThan(20);
    const second = await ask(server, { ...body, messages: [{ role: "user", content: "a different question" }] });
    expect(second).toMatchObject({ cache_read_input_tokens: first.cache_creation_input_tokens, cache_creation_input_tokens: 0 });
    expect(server.mismatches).toEqual([]);
  });

  it("caches nothing below the model's minimum cacheable length", async () => {
    server = await startFakeServer(turns(2), { promptCache: true });
    const body = { system: [{ type: "text", text: "short", cache_control: cc }], messages: [{ role: "user", content: "hi" }] };
    for (let i = 0; i < 2; i++) {
      const u = await ask(server, body);
      expect(u).toMatchObject({ cache_read_input_tokens: 0, cache_creation_input_tokens: 0 });
      expect(u.input_tokens).toBeGreaterThan(0);
    }
  });

  it("rejects more than 4 breakpoints with a 400, as the API does", async () => {
    server = await startFakeServer(turns(1), { promptCache: true });
    const blocks = Array.from({ length: 5 }, (_, i) => ({ type: "text", text: `part ${i}`, cache_control: cc }));
    await expect(client(server).messages.create({ ...params, system: blocks } as any)).rejects.toMatchObject({ status: 400 });
    expect(server.mismatches.join()).toMatch(/maximum of 4 blocks with cache_control/);
  });

  it("expires an entry 5 minutes after its last use; a read refreshes it", async () => {
    let now = 1_000_000;
    server = await startFakeServer(turns(4), { promptCache: { now: () => now } });
    const body = { system: [{ type: "text", text: bigSystem, cache_control: cc }], messages: [{ role: "user", content: "q" }] };
    const written = (await ask(server, body)).cache_creation_input_tokens;
    now += 4 * 60_000;
    expect((await ask(server, body)).cache_read_input_tokens).toBe(written); // read at 4 min: refreshed
    now += 4 * 60_000;
    expect((await ask(server, body)).cache_read_input_tokens).toBe(written); // 8 min after the write, 4 after the read
    now += 5 * 60_000 + 1;
    expect((await ask(server, body))).toMatchObject({ cache_read_input_tokens: 0, cache_creation_input_tokens: written });
  });

  it("a moving breakpoint hits the previous write within 20 blocks, and misses it beyond", async () => {
    server = await startFakeServer(turns(4), { promptCache: true });
    const text = (i: number) => ({ type: "text", text: `block ${i} ${"lorem ipsum ".repeat(40)}` });
    // One user message of n blocks, the breakpoint on the last one; tools come first in the prefix.
    const body = (n: number) => ({
      tools: [{ name: "Read", description: "Reads a file. ".repeat(300), input_schema: { type: "object", properties: {} } }],
      messages: [{ role: "user", content: Array.from({ length: n }, (_, i) => (i === n - 1 ? { ...text(i), cache_control: cc } : text(i))) }],
    });
    const a = await ask(server, body(5));
    expect(a.cache_read_input_tokens).toBe(0);
    const b = await ask(server, body(25)); // 20 blocks later: the write at block 5 is the 20th boundary back
    expect(b.cache_read_input_tokens).toBe(a.cache_creation_input_tokens);
    const c = await ask(server, body(46)); // 21 blocks after the write at 25: out of the lookback window
    expect(c.cache_read_input_tokens).toBe(0);
    expect(c.cache_creation_input_tokens! + c.input_tokens).toBeGreaterThan(b.cache_read_input_tokens! + b.cache_creation_input_tokens!);
  });

  it("orders the prefix tools, system, messages: a changed tool invalidates everything after it", async () => {
    server = await startFakeServer(turns(2), { promptCache: true });
    const body = (desc: string) => ({
      tools: [{ name: "Read", description: desc, input_schema: { type: "object", properties: {} } }],
      system: [{ type: "text", text: bigSystem, cache_control: cc }],
      messages: [{ role: "user", content: "q" }],
    });
    const first = await ask(server, body("Reads a file."));
    const second = await ask(server, body("Reads a file!"));
    expect(second).toMatchObject({ cache_read_input_tokens: 0, cache_creation_input_tokens: first.cache_creation_input_tokens });
  });
});

describe("fake server: the ways a response ends (issue 23)", () => {
  /** The raw events of one streamed request, as pod reads them (stream: true, no MessageStream). */
  async function rawEvents(s: FakeServer): Promise<{ type: string; [k: string]: any }[]> {
    const stream = await client(s).messages.create({ ...params, stream: true });
    const out: { type: string }[] = [];
    for await (const ev of stream) out.push(ev);
    return out;
  }

  it("end_early ends the body cleanly before message_stop: the SDK's raw stream just ends", async () => {
    server = await startFakeServer({ turns: [{ response: { content: [{ type: "text", text: "cut short" }] }, fault: { kind: "end_early" } }] });
    const events = await rawEvents(server);
    expect(events.at(-1)!.type).toBe("message_delta");
    expect(events.some((e) => e.type === "message_stop")).toBe(false);
  });

  it("sends any stop reason, or none, and a tool call whose block never ends", async () => {
    const cut = { type: "tool_use_cut", id: "toolu_c", name: "Write", partial_json: '{"path": "a' };
    server = await startFakeServer({
      turns: [
        { response: { content: [{ type: "text", text: "x" }], stop_reason: "refusal" } },
        { response: { content: [{ type: "text", text: "x" }], stop_reason: "something_new" } },
        { response: { content: [{ type: "text", text: "x" }], stop_reason: null } },
        { response: { content: [cut], stop_reason: "max_tokens" } },
      ],
    });
    const stops = [];
    for (let i = 0; i < 3; i++) stops.push((await rawEvents(server)).find((e) => e.type === "message_delta")!.delta.stop_reason);
    expect(stops).toEqual(["refusal", "something_new", null]);
    const events = await rawEvents(server);
    expect(events.filter((e) => e.type === "content_block_start")).toEqual([expect.objectContaining({ content_block: expect.objectContaining({ type: "tool_use", id: "toolu_c" }) })]);
    expect(events.some((e) => e.type === "content_block_stop")).toBe(false);
    expect(events.filter((e) => e.type === "content_block_delta").map((e) => e.delta.partial_json).join("")).toBe('{"path": "a');
    expect(events.at(-1)!.type).toBe("message_stop");
  });
});
