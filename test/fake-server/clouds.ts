import http from "node:http";
import type { AddressInfo } from "node:net";
import { EventStreamCodec } from "@smithy/eventstream-codec";
import { fromUtf8, toUtf8 } from "@smithy/util-utf8";
import type { RecordedRequest } from "./server.js";

/**
 * Fakes of the two cloud front doors, each a translator in front of the scripted
 * fake Messages API (server.ts), so one script drives all three providers:
 * - Bedrock: POST /model/{id}/invoke-with-response-stream, answered in AWS's binary
 *   event-stream framing (encoded by @smithy/eventstream-codec, the AWS SDK's own codec),
 *   each frame a `chunk` whose payload is {"bytes": base64(Anthropic event JSON)}.
 * - Vertex: POST /v1/projects/{p}/locations/{r}/publishers/anthropic/models/{m}:streamRawPredict,
 *   answered with the Anthropic SSE stream as is.
 * The model id from the path is put back into the body, so the script's `expect.model`
 * sees the provider-specific id.
 */
export interface CloudFake {
  url: string;
  requests: RecordedRequest[];
  close(): Promise<void>;
}

const BEDROCK = /^\/model\/([^/]+)\/invoke-with-response-stream$/;
const VERTEX = /^\/v1\/projects\/([^/]+)\/locations\/([^/]+)\/publishers\/anthropic\/models\/([^/:]+(?:@[^/:]+)?):streamRawPredict$/;

export function startBedrockFake(upstream: string): Promise<CloudFake> {
  const codec = new EventStreamCodec(toUtf8, fromUtf8);
  return startTranslator(upstream, BEDROCK, (m) => decodeURIComponent(m[1]!), async (up, res) => {
    if (up.status !== 200) return passError(up, res);
    res.writeHead(200, { "content-type": "application/vnd.amazon.eventstream", "x-amzn-requestid": "fake-bedrock" });
    for await (const data of sseData(up)) {
      const payload = JSON.stringify({ bytes: Buffer.from(data, "utf8").toString("base64") });
      const frame = codec.encode({
        headers: {
          ":event-type": { type: "string", value: "chunk" },
          ":content-type": { type: "string", value: "application/json" },
          ":message-type": { type: "string", value: "event" },
        },
        body: fromUtf8(payload),
      });
      res.write(Buffer.from(frame));
    }
    res.end();
  });
}

export function startVertexFake(upstream: string): Promise<CloudFake> {
  return startTranslator(upstream, VERTEX, (m) => decodeURIComponent(m[3]!), async (up, res) => {
    if (up.status !== 200) return passError(up, res);
    res.writeHead(200, { "content-type": "text/event-stream" });
    for await (const chunk of up.body as unknown as AsyncIterable<Uint8Array>) res.write(chunk);
    res.end();
  });
}

type Relay = (up: Response, res: http.ServerResponse) => Promise<void>;

async function startTranslator(upstream: string, route: RegExp, modelOf: (m: RegExpExecArray) => string, relay: Relay): Promise<CloudFake> {
  const requests: RecordedRequest[] = [];
  const server = http.createServer(async (req, res) => {
    const chunks: Buffer[] = [];
    for await (const c of req) chunks.push(c as Buffer);
    const raw = Buffer.concat(chunks).toString("utf8");
    const body = raw ? JSON.parse(raw) : undefined;
    const url = (req.url ?? "").split("?")[0]!;
    requests.push({ method: req.method ?? "", path: url, headers: { ...req.headers }, body, receivedAt: Date.now() });
    const m = route.exec(url);
    if (req.method !== "POST" || !m) {
      res.writeHead(404, { "content-type": "application/json" }).end(JSON.stringify({ message: `fake cloud: no route ${req.method} ${url}` }));
      return;
    }
    const { anthropic_version: _v, ...rest } = body ?? {};
    const up = await fetch(`${upstream}/v1/messages`, {
      method: "POST",
      headers: { "content-type": "application/json", "x-api-key": "fake", "anthropic-version": "2023-06-01" },
      body: JSON.stringify({ ...rest, model: modelOf(m), stream: true }),
    });
    await relay(up, res);
  });
  await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`,
    requests,
    close: () => new Promise((r) => { server.closeAllConnections(); server.close(() => r()); }),
  };
}

async function passError(up: Response, res: http.ServerResponse) {
  const text = await up.text();
  res.writeHead(up.status, { "content-type": "application/json" }).end(text);
}

/** The `data:` payloads of an SSE body, one per event. */
async function* sseData(up: Response): AsyncGenerator<string> {
  const decoder = new TextDecoder();
  let buf = "";
  for await (const chunk of up.body as unknown as AsyncIterable<Uint8Array>) {
    buf += decoder.decode(chunk, { stream: true });
    let i: number;
    while ((i = buf.indexOf("\n\n")) >= 0) {
      const frame = buf.slice(0, i);
      buf = buf.slice(i + 2);
      const data = frame.split("\n").filter((l) => l.startsWith("data:")).map((l) => l.slice(5).trimStart()).join("\n");
      if (data) yield data;
    }
  }
}
