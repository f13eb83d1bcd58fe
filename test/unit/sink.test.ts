import { describe, expect, it } from "vitest";
import { EVENT_VERSION, type PodEvent } from "../../src/events/schema.js";
import { EventSink, eventJson } from "../../src/events/sink.js";
import { jsonlWriter } from "../../src/events/jsonl.js";

describe("event lines", () => {
  it("are exactly JSON.stringify of the event object, envelope first", () => {
    const bodies: Array<[string, object]> = [
      ["text_delta", { text: 'quotes " and \\ and \n newlines, ünïcode, \u2028, emoji 🎉' }],
      ["tool_call_done", { id: "toolu_1", name: "Edit", input: { path: "a.ts", nested: [1, null, { deep: true }] } }],
      ["turn_end", { turn: 3, stop_reason: "end_turn", skipped: undefined }],
      ["run_end", {}],
    ];
    for (const sessionId of [null, "20261125T101010Z-abc123"]) {
      for (const [type, body] of bodies) {
        const ts = new Date(1_700_000_000_123).toISOString();
        const line = eventJson(41, ts, JSON.stringify(sessionId), type as PodEvent["type"], body);
        expect(line).toBe(JSON.stringify({ v: EVENT_VERSION, seq: 41, ts, session_id: sessionId, type, ...body }));
      }
    }
  });

  it("number events from 0 and stamp them with the session", () => {
    const lines: string[] = [];
    const sink = new EventSink({ kind: "lines", line: (json) => lines.push(json) });
    const before = Date.now();
    sink.emit("text_delta", { text: "a" });
    sink.sessionId = "20261125T101010Z-abc123";
    sink.emit("text_delta", { text: "b" });
    const after = Date.now();
    const events = lines.map((l) => JSON.parse(l));
    expect(events.map((e) => [e.seq, e.session_id, e.text])).toEqual([
      [0, null, "a"],
      [1, "20261125T101010Z-abc123", "b"],
    ]);
    // Stamped when emitted (a bound on order, not on speed).
    for (const e of events) expect(Date.parse(e.ts) >= before && Date.parse(e.ts) <= after, `${e.ts} within [${before}, ${after}]`).toBe(true);
    // Object writers get the same events as objects.
    const objects: PodEvent[] = [];
    const other = new EventSink({ kind: "events", event: (e) => objects.push(e) }, "20261125T101010Z-abc123");
    other.emit("text_delta", { text: "b" });
    expect(objects[0]).toMatchObject({ v: EVENT_VERSION, seq: 0, session_id: "20261125T101010Z-abc123", type: "text_delta", text: "b" });
  });
});

describe("the JSONL writer", () => {
  it("writes every line whole and in order, whatever its size or script", async () => {
    const writes: Buffer[] = [];
    const stream = { on: () => stream, write: (b: Buffer) => (writes.push(Buffer.from(b)), true) } as unknown as NodeJS.WriteStream;
    const w = jsonlWriter(stream);
    if (w.kind !== "lines") throw new Error("expected a line writer");
    const lines: string[] = [];
    for (let i = 0; i < 3000; i++) {
      // Mostly short deltas, some multi-byte text, a few lines larger than a chunk.
      const text = i % 500 === 0 ? "x".repeat(100_000 + i) : i % 7 === 0 ? "日本語🎉".repeat(i % 50) : `word ${i}`;
      lines.push(JSON.stringify({ seq: i, text }));
    }
    for (const l of lines) w.line(l, "text_delta");
    await new Promise((resolve) => setImmediate(resolve));
    w.line('{"type":"run_end"}', "run_end"); // flushed at once
    expect(Buffer.concat(writes).toString("utf8")).toBe(lines.join("\n") + '\n{"type":"run_end"}\n');
    // Batched: far fewer writes than lines.
    expect(writes.length).toBeLessThan(lines.length / 10);
  });
});
