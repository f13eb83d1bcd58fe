import { describe, expect, it } from "vitest";
import { firstDifference, textDiff } from "../../src/runs/diverge.js";
import { DeltaDecoder, DeltaEncoder } from "../../src/runs/request-delta.js";
import { readUstar, writeUstar } from "../../src/runs/ustar.js";

describe("request bodies stored as what changed (src/runs/request-delta.ts)", () => {
  it("rebuilds every body exactly, through growing histories, moved cache breakpoints, a compaction and a key that goes away", () => {
    const tools = [{ name: "Read", description: "reads", input_schema: { type: "object" } }];
    const sys = "You fix code.";
    const u = (t: string, mark = false) => ({ role: "user", content: [{ type: "text", text: t, ...(mark ? { cache_control: { type: "ephemeral" } } : {}) }] });
    const a = (t: string) => ({ role: "assistant", content: [{ type: "text", text: t }] });
    const bodies: Record<string, unknown>[] = [
      { model: "m", max_tokens: 10, system: [{ type: "text", text: sys }], tools, messages: [u("one", true)], stream: true },
      { model: "m", max_tokens: 10, system: [{ type: "text", text: sys }], tools, messages: [u("one", true), a("two"), u("three", true)], stream: true },
      { model: "m", max_tokens: 10, system: [{ type: "text", text: sys }], tools, messages: [u("one"), a("two"), u("three", true), a("four"), u("five", true)], stream: true },
      // A retry: the same body again.
      { model: "m", max_tokens: 10, system: [{ type: "text", text: sys }], tools, messages: [u("one"), a("two"), u("three", true), a("four"), u("five", true)], stream: true },
      // After a compaction: a summary first, fallback model, no tools.
      { model: "fallback", max_tokens: 10, system: [{ type: "text", text: sys }], messages: [u("summary"), a("four"), u("five", true)], stream: true },
    ];
    const enc = new DeltaEncoder();
    const dec = new DeltaDecoder();
    const deltas = bodies.map((b) => enc.encode("messages", b));
    expect(deltas[1]).toMatchObject({ body: {}, messages_kept: 1 });
    expect(deltas[2]!.messages_kept).toBe(0); // the first message lost its breakpoint
    expect(deltas[3]).toEqual({ body: {}, messages_kept: 5, messages: [] });
    expect(deltas[4]).toMatchObject({ body: { model: "fallback" }, unset: ["tools"], messages_kept: 0 });
    // Through JSON, as the recording stores them.
    deltas.forEach((d, i) => expect(dec.decode({ endpoint: "messages", n: i + 1, ...JSON.parse(JSON.stringify(d)) })).toEqual(bodies[i]));
  });

  it("refuses a record that keeps more messages than the previous request had", () => {
    expect(() => new DeltaDecoder().decode({ endpoint: "messages", n: 1, body: {}, messages_kept: 2, messages: [] })).toThrow(/keeps 2 messages of a request that had 0/);
  });
});

describe("the first difference between two requests, for people (src/runs/diverge.ts)", () => {
  const base = () => ({
    model: "m",
    system: [{ type: "text", text: "line one\nline two" }],
    tools: [{ name: "Read", description: "Reads a file.", input_schema: { type: "object" } }],
    messages: [
      { role: "user", content: [{ type: "text", text: "fix it" }] },
      { role: "assistant", content: [{ type: "tool_use", id: "t1", name: "Read", input: { path: "a.txt" } }] },
      { role: "user", content: [{ type: "tool_result", tool_use_id: "t1", content: "alpha\nbeta" }] },
    ],
  });
  it("is undefined for the same JSON, whatever the key order", () => {
    const b = base();
    expect(firstDifference(b, JSON.parse(JSON.stringify({ messages: b.messages, tools: b.tools, system: b.system, model: b.model })))).toBeUndefined();
  });
  it("names the system prompt's first differing line", () => {
    const b = base();
    b.system[0]!.text = "line one\nline 2";
    expect(firstDifference(base(), b)).toBe('the system prompt differs: line 2: - "line two" + "line 2"');
  });
  it("names a tool added, and a description changed", () => {
    const b = base();
    b.tools.push({ name: "Write", description: "w", input_schema: { type: "object" } });
    expect(firstDifference(base(), b)).toBe("the tools differ: now also Write");
    const c = base();
    c.tools[0]!.description = "Reads a file, carefully.";
    expect(firstDifference(base(), c)).toBe('the Read tool\'s description differs: line 1: - "Reads a file." + "Reads a file, carefully."');
  });
  it("names the message, the block and the call a tool result answers", () => {
    const b = base();
    (b.messages[2]!.content[0] as { content: string }).content = "alpha\nBETA";
    expect(firstDifference(base(), b)).toBe('message 3 of 3 (user), block 1 (the result of the Read call t1) differs: line 2: - "beta" + "BETA"');
  });
  it("says which message is new or missing", () => {
    const b = base();
    b.messages.push({ role: "assistant", content: [{ type: "text", text: "more" }] });
    expect(firstDifference(base(), b)).toBe("the request has 4 messages, the recorded one 3: message 4 (an assistant message starting with the text) is new");
  });
  it("shows a long line around its first difference", () => {
    const d = textDiff(`${"x".repeat(300)}A${"y".repeat(300)}`, `${"x".repeat(300)}B${"y".repeat(300)}`);
    expect(d).toMatch(/^line 1: - "…x+Ay+…" \+ "…x+By+…"$/);
    expect(d.length).toBeLessThan(300);
  });
});

describe("bundles' ustar (src/runs/ustar.ts)", () => {
  it("round-trips regular files, long names through the prefix field", () => {
    const files = [
      { name: "bundle.json", data: Buffer.from("{}\n") },
      { name: `pod/runs/20260101T000000Z-abcdef/${"r".repeat(90)}.jsonl`, data: Buffer.alloc(1500, 7) },
      { name: "pod/empty", data: Buffer.alloc(0) },
    ];
    const back = readUstar(writeUstar(files));
    expect(back.map((e) => [e.name, e.type, e.data.length])).toEqual(files.map((f) => [f.name, "File", f.data.length]));
    expect(back[1]!.data.equals(files[1]!.data)).toBe(true);
  });
  it("refuses a header whose checksum does not match, and an archive without its end blocks", () => {
    const tar = writeUstar([{ name: "a", data: Buffer.from("hello") }]);
    const bad = Buffer.from(tar);
    bad[0] = "b".charCodeAt(0);
    expect(() => readUstar(bad)).toThrow(/bad checksum/);
    expect(() => readUstar(tar.subarray(0, tar.length - 1024))).toThrow(/cut short/);
    expect(() => readUstar(tar.subarray(0, 600))).toThrow(/cut short/);
  });
});
