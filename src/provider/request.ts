import type { MessageCreateParamsBase, Tool as ApiTool } from "@anthropic-ai/sdk/resources/messages";
import { z } from "zod";
import type { Manifest } from "../manifest.js";
import { toApiMessages, type Message } from "../conversation/messages.js";
import type { Tool } from "../tools/types.js";

/** The JSON Schema the API receives for each tool, from the tool's zod input schema. */
export function toolDefinitions(tools: readonly Tool[]): ApiTool[] {
  return tools.map((t) => {
    if (t.jsonSchema) return { name: t.name, description: t.description, input_schema: { ...t.jsonSchema, type: "object" } as ApiTool["input_schema"] };
    const { $schema: _ignored, ...schema } = z.toJSONSchema(t.inputSchema, { target: "draft-2020-12", io: "input" }) as Record<string, unknown>;
    return { name: t.name, description: t.description, input_schema: { type: "object", ...schema } as ApiTool["input_schema"] };
  });
}

export interface RequestInputs {
  manifest: Manifest;
  model: string;
  tools: ApiTool[];
  history: readonly Message[];
  /** The run's system prompt (src/prompt/system-prompt.ts), built once per run so every turn sends the same bytes. */
  system?: string | undefined;
}

const EPHEMERAL = { type: "ephemeral" } as const;

/**
 * One Messages API request for the next turn, with prompt-caching breakpoints
 * (the API allows 4; the prefix is tools, then system, then messages):
 * 1. the last tool: the tool definitions stay cached when the system prompt changes;
 * 2. the end of the system prompt;
 * 3. the end of the previous request's prompt (the user message before the latest
 *    assistant message): exactly where the previous turn wrote the cache, so this
 *    request reads it however many blocks the latest turn added. With only a
 *    breakpoint on the last block, a turn of many parallel tool calls (more than
 *    the API's ~20-block lookback) would miss and pay the whole history again;
 * 4. the last block: writes this request's prompt for the next turn to read.
 */
export function buildRequest({ manifest, model, tools, history, system = manifest.systemPrompt }: RequestInputs): MessageCreateParamsBase {
  const messages = toApiMessages(history) as MessageCreateParamsBase["messages"];
  let lastAssistant = messages.length - 1;
  while (lastAssistant >= 0 && messages[lastAssistant]!.role !== "assistant") lastAssistant--;
  if (lastAssistant > 0) markLastBlock(messages, lastAssistant - 1);
  markLastBlock(messages, messages.length - 1);
  const cachedTools = tools.map((t, i) => (i === tools.length - 1 ? { ...t, cache_control: EPHEMERAL } : t));
  return {
    model,
    max_tokens: manifest.data.pod.max_tokens,
    ...thinkingParam(manifest.data.pod.thinking),
    ...(system ? { system: [{ type: "text" as const, text: system, cache_control: EPHEMERAL }] } : {}),
    ...(cachedTools.length > 0 ? { tools: cachedTools } : {}),
    messages,
  };
}

/**
 * [pod] thinking as the API's `thinking` parameter: a number is a fixed budget
 * (the manifest keeps it ≥ 1024 and below max_tokens), "adaptive" lets the model
 * decide, "off" sends nothing (the API's default, and what models without thinking accept).
 */
export function thinkingParam(thinking: Manifest["data"]["pod"]["thinking"]): Pick<MessageCreateParamsBase, "thinking"> {
  if (thinking === "off") return {};
  if (thinking === "adaptive") return { thinking: { type: "adaptive" } };
  return { thinking: { type: "enabled", budget_tokens: thinking } };
}

/** Puts a breakpoint on the last block of messages[i], on a copy: stored messages must not carry it into later requests. */
function markLastBlock(messages: MessageCreateParamsBase["messages"], i: number): void {
  const m = messages[i];
  if (!m || !Array.isArray(m.content) || m.content.length === 0) return;
  // The API refuses cache_control on thinking blocks (an assistant message can end in one).
  const last = m.content.at(-1)!;
  if (last.type === "thinking" || last.type === "redacted_thinking") return;
  const blocks = [...m.content];
  blocks[blocks.length - 1] = { ...blocks.at(-1)!, cache_control: EPHEMERAL } as (typeof blocks)[number];
  messages[i] = { ...m, content: blocks } as typeof m;
}
