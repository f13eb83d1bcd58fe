import { describe, expect, it } from "vitest";
import { Message, textMessage, toApiMessages, toolResultMessage, unsettledToolUses } from "../../src/conversation/messages.js";

const use = (id: string, name = "Read"): Message => ({ role: "assistant", content: [{ type: "tool_use", id, name, input: {} }] });

describe("toApiMessages", () => {
  it("merges consecutive same-role messages and keeps tool results first", () => {
    const history: Message[] = [
      textMessage("user", "fix it"),
      { role: "assistant", content: [{ type: "text", text: "looking" }, { type: "tool_use", id: "a", name: "Read", input: {} }, { type: "tool_use", id: "b", name: "Read", input: {} }] },
      toolResultMessage("a", "A", false),
      toolResultMessage("b", "B", true),
      textMessage("user", "also this"),
    ];
    expect(toApiMessages(history)).toEqual([
      textMessage("user", "fix it"),
      history[1],
      {
        role: "user",
        content: [
          { type: "tool_result", tool_use_id: "a", content: "A" },
          { type: "tool_result", tool_use_id: "b", content: "B", is_error: true },
          { type: "text", text: "also this" },
        ],
      },
    ]);
  });

  it("answers a tool_use without a result as interrupted, so the API accepts the history", () => {
    const api = toApiMessages([textMessage("user", "go"), use("x"), textMessage("user", "next")]);
    expect(api).toHaveLength(3);
    expect(api[2]!.content[0]).toMatchObject({ type: "tool_result", tool_use_id: "x", is_error: true });
    expect((api[2]!.content[0] as { content: string }).content).toMatch(/interrupted/);
    expect(api[2]!.content[1]).toEqual({ type: "text", text: "next" });
  });

  it("drops orphan tool results and empty assistant messages", () => {
    const api = toApiMessages([textMessage("user", "go"), toolResultMessage("ghost", "?", false), { role: "assistant", content: [] }, textMessage("user", "again")]);
    expect(api).toEqual([{ role: "user", content: [{ type: "text", text: "go" }, { type: "text", text: "again" }] }]);
  });
});

describe("thinking blocks", () => {
  it("are kept, in place and unchanged, in the messages sent back (the API checks their signature)", () => {
    const assistant: Message = {
      role: "assistant",
      content: [
        { type: "thinking", thinking: "read it first", signature: "sig==" },
        { type: "redacted_thinking", data: "opaque" },
        { type: "tool_use", id: "a", name: "Read", input: { path: "x" } },
      ],
    };
    const history: Message[] = [textMessage("user", "go"), assistant, toolResultMessage("a", "A", false)];
    const sent = toApiMessages(history);
    expect(sent[1]).toEqual(assistant);
    expect(Message.parse(JSON.parse(JSON.stringify(assistant)))).toEqual(assistant);
  });
});

describe("unsettledToolUses", () => {
  it("lists the last assistant's tool uses that have no stored result", () => {
    const history: Message[] = [textMessage("user", "go"), { role: "assistant", content: [...use("a").content, ...use("b").content, ...use("c").content] }, toolResultMessage("a", "ok", false)];
    expect(unsettledToolUses(history).map((u) => u.id)).toEqual(["b", "c"]);
  });

  it("is empty when the last assistant message has no tool use or all are answered", () => {
    expect(unsettledToolUses([textMessage("user", "go"), textMessage("assistant", "done")])).toEqual([]);
    expect(unsettledToolUses([textMessage("user", "go"), use("a"), toolResultMessage("a", "ok", false)])).toEqual([]);
    expect(unsettledToolUses([])).toEqual([]);
  });
});
