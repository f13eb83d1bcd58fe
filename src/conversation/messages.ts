import { z } from "zod";

/**
 * The content blocks pod keeps in history: the subset of the Messages API it
 * produces. Unknown fields are kept (passthrough) so a newer pod's history still loads.
 */
export const TextBlock = z.looseObject({ type: z.literal("text"), text: z.string() });
export const ToolUseBlock = z.looseObject({
  type: z.literal("tool_use"),
  id: z.string(),
  name: z.string(),
  input: z.unknown(),
});
export const ToolResultBlock = z.looseObject({
  type: z.literal("tool_result"),
  tool_use_id: z.string(),
  content: z.string(),
  is_error: z.boolean().optional(),
});
/**
 * Extended thinking ([pod] thinking). The API verifies the signature (or the opaque
 * data) when the block comes back, and wants it before the tool_use in the next request
 * of a tool loop: these are stored exactly as streamed and sent back unchanged.
 */
export const ThinkingBlock = z.looseObject({ type: z.literal("thinking"), thinking: z.string(), signature: z.string() });
export const RedactedThinkingBlock = z.looseObject({ type: z.literal("redacted_thinking"), data: z.string() });
// Discriminated on "type": the store validates every block of every message it loads.
export const ContentBlock = z.discriminatedUnion("type", [TextBlock, ToolUseBlock, ToolResultBlock, ThinkingBlock, RedactedThinkingBlock]);
export type ContentBlock = z.infer<typeof ContentBlock>;
export type ToolUse = z.infer<typeof ToolUseBlock>;
export type ToolResultContent = z.infer<typeof ToolResultBlock>;

export const Message = z.object({
  role: z.enum(["user", "assistant"]),
  content: z.array(ContentBlock),
});
export type Message = z.infer<typeof Message>;

export function textMessage(role: Message["role"], text: string): Message {
  return { role, content: [{ type: "text", text }] };
}

export function toolResultMessage(toolUseId: string, content: string, isError: boolean): Message {
  return { role: "user", content: [{ type: "tool_result", tool_use_id: toolUseId, content, ...(isError ? { is_error: true } : {}) }] };
}

export function toolUses(message: Message): ToolUse[] {
  return message.content.filter((b): b is ToolUse => b.type === "tool_use");
}

/**
 * Turns stored messages into a list the Messages API accepts: consecutive messages
 * of one role are merged (a crash can leave a prompt after a prompt, and tool
 * results are stored one per message), every tool_use gets a result (a missing one
 * becomes an error result saying the call was interrupted), results without a
 * tool_use are dropped, and tool results lead their user message as the API requires.
 */
export function toApiMessages(messages: readonly Message[]): Message[] {
  const merged: Message[] = [];
  for (const m of messages) {
    if (m.content.length === 0) continue; // an empty response: nothing the API would accept
    const last = merged.at(-1);
    if (last && last.role === m.role) last.content = [...last.content, ...m.content];
    else merged.push({ role: m.role, content: [...m.content] });
  }
  // Drop a leading assistant message (possible after compaction edge cases): the API wants user first.
  while (merged[0]?.role === "assistant") merged.shift();

  const out: Message[] = [];
  for (let i = 0; i < merged.length; i++) {
    const m = merged[i]!;
    if (m.role === "assistant") {
      out.push(m);
      const uses = toolUses(m);
      if (uses.length === 0) continue;
      const next = merged[i + 1];
      const results = new Map<string, ContentBlock>();
      const rest: ContentBlock[] = [];
      for (const b of next?.role === "user" ? next.content : []) {
        if (b.type === "tool_result" && uses.some((u) => u.id === b.tool_use_id)) results.set(b.tool_use_id, b);
        else if (b.type !== "tool_result") rest.push(b);
      }
      const settled: ContentBlock[] = uses.map(
        (u) =>
          results.get(u.id) ?? {
            type: "tool_result",
            tool_use_id: u.id,
            content: "This tool call was interrupted before it finished; its effect is unknown. Check the current state before retrying.",
            is_error: true,
          },
      );
      out.push({ role: "user", content: [...settled, ...rest] });
      if (next?.role === "user") i++;
    } else {
      const content = m.content.filter((b) => b.type !== "tool_result");
      if (content.length > 0) out.push({ role: "user", content });
    }
  }
  // Adjacent user messages can appear where orphan results were dropped; merge again.
  const final: Message[] = [];
  for (const m of out) {
    const last = final.at(-1);
    if (last && last.role === m.role) last.content = [...last.content, ...m.content];
    else final.push(m);
  }
  return final;
}

/** Tool uses of the last assistant message that have no result stored after it. */
export function unsettledToolUses(messages: readonly Message[]): ToolUse[] {
  let i = messages.length - 1;
  const answered = new Set<string>();
  for (; i >= 0 && messages[i]!.role === "user"; i--) {
    for (const b of messages[i]!.content) if (b.type === "tool_result") answered.add(b.tool_use_id);
  }
  const last = messages[i];
  if (!last || last.role !== "assistant") return [];
  return toolUses(last).filter((u) => !answered.has(u.id));
}
