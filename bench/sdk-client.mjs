// The baseline for the relay benchmark: a plain SDK client that streams the same
// response and prints one JSON line per text delta, the least a relay can do.
import Anthropic from "@anthropic-ai/sdk";

const client = new Anthropic({ apiKey: "bench", baseURL: process.env.ANTHROPIC_BASE_URL, maxRetries: 0, logLevel: "off" });
const stream = client.messages.stream({ model: "claude-sonnet-5-5", max_tokens: 100, messages: [{ role: "user", content: "go" }] });
for await (const ev of stream) {
  if (ev.type === "content_block_delta" && ev.delta.type === "text_delta") process.stdout.write(JSON.stringify({ type: "text_delta", text: ev.delta.text }) + "\n");
}
process.stdout.write(JSON.stringify({ type: "run_end" }) + "\n");
