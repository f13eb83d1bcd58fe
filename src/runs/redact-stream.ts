// A streamed response, redacted as a whole before it is recorded. The Redactor replaces a
// secret it finds in a string, but a stream carries the model's text in pieces (text_delta,
// input_json_delta, thinking_delta of ~8-100 characters), so a secret the model repeated is
// usually split across two pieces and no piece holds it: the recording then kept it, and
// `pod report` and `pod replay`, which reassemble the pieces, showed it (test/security/
// report-secrets.test.ts failed so). Here each content block's pieces are joined; where the
// joined text holds a secret, the block's pieces become one piece with the redacted whole —
// the same text the session stored (it redacts the assembled message), so a replay rebuilds
// what the live run sent on. A response with no secret in it is recorded exactly as received.
import type { SseEvent } from "../provider/stream.js";
import type { Redactor } from "../redact/redactor.js";

const FIELD: Record<string, string> = { text_delta: "text", input_json_delta: "partial_json", thinking_delta: "thinking" };

type Delta = { type: "content_block_delta"; index: number; delta: Record<string, unknown> & { type: string } };

function isDelta(e: SseEvent): e is SseEvent & Delta {
  const d = e as unknown as Partial<Delta>;
  return d.type === "content_block_delta" && typeof d.index === "number" && typeof d.delta?.type === "string" && FIELD[d.delta.type] !== undefined;
}

export function redactStream(redactor: Redactor, events: SseEvent[]): SseEvent[] {
  if (redactor.size === 0) return events;
  // The pieces of each block, by index and kind of piece.
  const pieces = new Map<string, number[]>();
  events.forEach((e, i) => {
    if (!isDelta(e)) return;
    const key = `${e.index}:${e.delta.type}`;
    const list = pieces.get(key) ?? [];
    list.push(i);
    pieces.set(key, list);
  });
  const replace = new Map<number, SseEvent>();
  const drop = new Set<number>();
  for (const list of pieces.values()) {
    if (list.length < 2) continue;
    const first = events[list[0]!] as SseEvent & Delta;
    const field = FIELD[first.delta.type]!;
    const whole = list.map((i) => String(((events[i] as SseEvent & Delta).delta[field] as string | undefined) ?? "")).join("");
    const redacted = redactor.text(whole);
    if (redacted === whole) continue;
    replace.set(list[0]!, { ...first, delta: { ...first.delta, [field]: redacted } } as SseEvent);
    for (const i of list.slice(1)) drop.add(i);
  }
  const joined = replace.size === 0 ? events : events.flatMap((e, i) => (drop.has(i) ? [] : [replace.get(i) ?? e]));
  // And every string as it is (a secret inside one piece, a tool input in content_block_start).
  return redactor.value(joined);
}
