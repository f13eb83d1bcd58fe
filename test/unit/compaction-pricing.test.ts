import { describe, expect, it } from "vitest";
import { chooseKeepFrom } from "../../src/runtime/compaction.js";
import { costUsd, priceFor } from "../../src/conversation/pricing.js";
import { textMessage, toolResultMessage, type Message } from "../../src/conversation/messages.js";

const use = (id: string): Message => ({ role: "assistant", content: [{ type: "tool_use", id, name: "Read", input: {} }] });
// prompt, A1(use), R1, A2(use), R2, A3(text), prompt2, A4(text)
const session: Message[] = [
  textMessage("user", "task"),
  use("a"),
  toolResultMessage("a", "x", false),
  use("b"),
  toolResultMessage("b", "y", false),
  textMessage("assistant", "done"),
  textMessage("user", "task 2"),
  textMessage("assistant", "done 2"),
];

describe("chooseKeepFrom", () => {
  it("cuts before an assistant message, keeping the prompt that asked for it", () => {
    expect(chooseKeepFrom(session, 0, 1)).toBe(6); // keeps "task 2" + A4
    expect(chooseKeepFrom(session, 0, 2)).toBe(5); // A3 follows a tool result: cut right before it
    expect(chooseKeepFrom(session, 0, 3)).toBe(3);
    expect(chooseKeepFrom(session, 0, 0)).toBe(8);
  });

  it("never lands between a tool_use and its result", () => {
    for (let keep = 0; keep < 6; keep++) {
      const cut = chooseKeepFrom(session, 0, keep);
      if (cut === undefined) continue;
      const first = session[cut];
      expect(first === undefined || first.content.every((b) => b.type !== "tool_result")).toBe(true);
    }
  });

  it("has nothing to do when there are no more turns than it keeps", () => {
    expect(chooseKeepFrom(session, 0, 4)).toBeUndefined();
    expect(chooseKeepFrom(session, 6, 1)).toBeUndefined();
  });
});

describe("pricing", () => {
  it("prices known models and dated ids, and refuses to guess", () => {
    expect(priceFor("claude-sonnet-4-5-20250929")).toEqual({ input: 3, output: 15 });
    expect(priceFor("claude-sonnet-5-5")).toEqual({ input: 2, output: 10 });
    expect(priceFor("claude-opus-4-1-20250805")).toEqual({ input: 15, output: 75 });
    expect(priceFor("gpt-4")).toBeUndefined();
    expect(costUsd("claude-haiku-4-5", { input_tokens: 1_000_000, output_tokens: 0, cache_read_input_tokens: 0, cache_creation_input_tokens: 0 })).toBe(1);
    expect(costUsd("mystery", { input_tokens: 1, output_tokens: 1, cache_read_input_tokens: 0, cache_creation_input_tokens: 0 })).toBeNull();
  });
});
