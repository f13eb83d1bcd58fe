import type { EventWriter } from "./sink.js";

// The JSONL writer: the text the sink made, batched onto stdout. Beside it, pretty.ts
// renders the same events for a person; the sink (sink.ts) stamps the envelope for both.

const CHUNK_BYTES = 64 * 1024;

/**
 * Writes one JSON object per line to stdout. Lines are batched within one tick of
 * the event loop (a streamed chunk carries dozens of deltas) and written together,
 * which keeps the relay's cost per event small; the batch is flushed before the
 * process exits. A reader that goes away (`pod run | head -1`) must not kill the
 * run before it saves state, so EPIPE just stops the output.
 */
export function jsonlWriter(stream: NodeJS.WriteStream = process.stdout): EventWriter {
  let closed = false;
  // Lines are encoded straight into a chunk, not kept as strings and joined: a text
  // stream makes a line per delta, and fewer intermediate strings is less GC.
  let chunk = Buffer.allocUnsafe(CHUNK_BYTES);
  let used = 0;
  let scheduled = false;
  stream.on("error", (err: NodeJS.ErrnoException) => {
    if (err.code === "EPIPE") closed = true;
    else throw err;
  });
  const flush = () => {
    scheduled = false;
    if (used === 0) return;
    // The stream may keep the chunk until it is written, so the next lines get a new one.
    if (!closed) stream.write(chunk.subarray(0, used));
    chunk = Buffer.allocUnsafe(CHUNK_BYTES);
    used = 0;
  };
  process.on("exit", flush);
  return {
    kind: "lines",
    line(json, type) {
      // A UTF-16 code unit is at most 3 bytes of UTF-8.
      const most = json.length * 3 + 1;
      if (used + most > chunk.length) {
        flush();
        if (most > chunk.length) chunk = Buffer.allocUnsafe(most);
      }
      used += chunk.write(json, used, "utf8");
      chunk[used++] = 0x0a;
      if (type === "run_end" || type === "error") flush();
      else if (!scheduled) {
        scheduled = true;
        setImmediate(flush);
      }
    },
  };
}
