/**
 * Checks a Messages API request body's `messages` the way the API would: starts
 * with a user message, roles alternate, and every tool_use is answered by a
 * tool_result in the very next user message (and no result is orphaned).
 * Returns the problems found; an empty list means the API would accept it.
 */
export function apiHistoryProblems(messages: any[]): string[] {
  const problems: string[] = [];
  if (!Array.isArray(messages) || messages.length === 0) return ["no messages"];
  if (messages[0].role !== "user") problems.push("first message is not from the user");
  for (let i = 0; i < messages.length; i++) {
    const m = messages[i];
    if (i > 0 && messages[i - 1].role === m.role) problems.push(`messages ${i - 1} and ${i} are both ${m.role}`);
    const blocks = Array.isArray(m.content) ? m.content : [{ type: "text", text: m.content }];
    if (blocks.length === 0) problems.push(`message ${i} is empty`);
    if (m.role !== "assistant") continue;
    const uses = blocks.filter((b: any) => b.type === "tool_use").map((b: any) => b.id);
    if (uses.length === 0) continue;
    const next = messages[i + 1];
    const results = (next?.content ?? []).filter((b: any) => b.type === "tool_result").map((b: any) => b.tool_use_id);
    for (const id of uses) if (!results.includes(id)) problems.push(`tool_use ${id} (message ${i}) has no tool_result in the next message`);
    for (const id of results) if (!uses.includes(id)) problems.push(`tool_result ${id} (message ${i + 1}) answers no tool_use`);
  }
  return problems;
}

/** The messages without prompt-caching breakpoints, to compare conversation content. */
export function withoutCacheControl(messages: any[]): any[] {
  return messages.map((m) => ({
    ...m,
    content: Array.isArray(m.content) ? m.content.map(({ cache_control: _c, ...b }: any) => b) : m.content,
  }));
}
