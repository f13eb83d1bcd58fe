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
