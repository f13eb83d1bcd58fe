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
}

/** One Messages API request for the next turn. */
export function buildRequest({ manifest, model, tools, history }: RequestInputs): MessageCreateParamsBase {
  return {
    model,
    max_tokens: manifest.data.pod.max_tokens,
    ...(manifest.systemPrompt ? { system: manifest.systemPrompt } : {}),
    ...(tools.length > 0 ? { tools } : {}),
    messages: toApiMessages(history) as MessageCreateParamsBase["messages"],
  };
}
