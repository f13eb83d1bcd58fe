import type { MessageCreateParamsBase, Tool as ApiTool } from "@anthropic-ai/sdk/resources/messages";
import { z } from "zod";
import type { Manifest } from "../manifest.js";
import { toApiMessages, type Message } from "../store/messages.js";
import type { Tool } from "../tools/types.js";

/** The JSON Schema the API receives for each tool, from the tool's zod input schema. */
export function toolDefinitions(tools: readonly Tool[]): ApiTool[] {
  return tools.map((t) => {
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
 * (at most 3 of the API's 4): the end of the system prompt, the last tool, and
 * the last block of the conversation. Each turn's prefix is then the previous
 * turn's request plus new messages, so it is read from cache instead of paid again.
 */
export function buildRequest({ manifest, model, tools, history, system = manifest.systemPrompt }: RequestInputs): MessageCreateParamsBase {
  const messages = toApiMessages(history) as MessageCreateParamsBase["messages"];
  const last = messages.at(-1);
  if (last && Array.isArray(last.content) && last.content.length > 0) {
    // Copy the block: the stored message must not carry a breakpoint into later requests.
    const blocks = [...last.content];
    blocks[blocks.length - 1] = { ...blocks.at(-1)!, cache_control: EPHEMERAL } as (typeof blocks)[number];
    messages[messages.length - 1] = { ...last, content: blocks } as typeof last;
  }
  const cachedTools = tools.map((t, i) => (i === tools.length - 1 ? { ...t, cache_control: EPHEMERAL } : t));
  return {
    model,
    max_tokens: manifest.data.pod.max_tokens,
    ...(system ? { system: [{ type: "text" as const, text: system, cache_control: EPHEMERAL }] } : {}),
    ...(cachedTools.length > 0 ? { tools: cachedTools } : {}),
    messages,
  };
}
