// The baseline for the relay benchmark: a plain SDK client that streams the same
// response and prints one JSON line per text delta, the least a relay can do. With
// --envelope it prints pod's event envelope too (v, seq, ts, session_id), so the
// comparison can separate pod's own work from the cost of the bytes its format adds.
import Anthropic from "@anthropic-ai/sdk";

const envelope = process.argv.includes("--envelope");
const client = new Anthropic({ apiKey: "bench", baseURL: process.env.ANTHROPIC_BASE_URL, maxRetries: 0, logLevel: "off" });
const stream = client.messages.stream({ model: "claude-sonnet-5-5", max_tokens: 100, messages: [{ role: "user", content: "go" }] });
let seq = 0;
const line = envelope
  ? (type, body) => JSON.stringify({ v: 1, seq: seq++, ts: new Date().toISOString(), session_id: "20261125T000000Z-abcdef", type, ...body }) + "\n"
  : (type, body) => JSON.stringify({ type, ...body }) + "\n";
for await (const ev of stream) {
  if (ev.type === "content_block_delta" && ev.delta.type === "text_delta") process.stdout.write(line("text_delta", { text: ev.delta.text }));
}
process.stdout.write(line("run_end", {}));
