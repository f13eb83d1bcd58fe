import type { Client } from "@modelcontextprotocol/sdk/client/index.js";
import { z } from "zod";
import { capOutput, fail } from "../text.js";
import type { Tool, ToolResult } from "../types.js";

/** What an MCP server says about one of its tools (tools/list). */
export interface McpToolDef {
  name: string;
  description?: string | undefined;
  inputSchema: Record<string, unknown>;
}

/** How long one tools/call may take before it is an error result. */
const CALL_TIMEOUT_MS = 10 * 60_000;

/**
 * The name the model sees: mcp__<server>__<tool>, as Claude Code names them. The API
 * accepts only [A-Za-z0-9_-] in tool names (at most 128), so other characters become "_".
 */
export const mcpToolName = (server: string, tool: string) => `mcp__${server}__${tool}`.replace(/[^A-Za-z0-9_-]/g, "_").slice(0, 128);

/**
 * One MCP tool as a pod Tool. The server's own JSON Schema goes to the API as is;
 * pod only checks that the input is an object and leaves the rest to the server,
 * which validates its own arguments and answers with an error result if they are wrong.
 */
export function mcpTool(server: string, client: Client, def: McpToolDef, afterCall?: () => void): Tool<Record<string, unknown>> {
  return {
    name: mcpToolName(server, def.name),
    description: (def.description ?? `Tool ${def.name} of the MCP server "${server}".`).slice(0, 4000),
    inputSchema: z.record(z.string(), z.unknown()),
    jsonSchema: def.inputSchema,
    async run(input, ctx) {
      // The SDK adds an abort listener to the signal it is given and never removes it: with the
      // run's signal, the 11th call printed a MaxListenersExceededWarning. One controller per
      // call, linked to the run's signal and unlinked when the call ends.
      const call = new AbortController();
      const onAbort = () => call.abort(ctx.signal.reason);
      if (ctx.signal.aborted) call.abort(ctx.signal.reason);
      else ctx.signal.addEventListener("abort", onAbort, { once: true });
      try {
        const result = await client.callTool({ name: def.name, arguments: input }, undefined, { signal: call.signal, timeout: CALL_TIMEOUT_MS });
        return toToolResult(result as CallResult);
      } catch (err) {
        return fail(`MCP server "${server}" failed on ${def.name}: ${(err as Error).message}`);
      } finally {
        ctx.signal.removeEventListener("abort", onAbort);
        afterCall?.();
      }
    },
  };
}

interface CallResult {
  content?: Array<{ type: string; text?: string; mimeType?: string; data?: string; resource?: { uri?: string; text?: string } }>;
  structuredContent?: unknown;
  isError?: boolean;
}

/**
 * Tool results are text in pod's session store, so non-text content becomes a short
 * description: an image is named (type and size), not passed on as an image block.
 */
export function toToolResult(r: CallResult): ToolResult {
  const parts: string[] = [];
  for (const c of r.content ?? []) {
    if (c.type === "text") parts.push(c.text ?? "");
    else if (c.type === "image" || c.type === "audio") parts.push(`[${c.type} ${c.mimeType ?? ""}, ${Math.round(((c.data?.length ?? 0) * 3) / 4)} bytes: not shown, pod passes tool results as text]`);
    else if (c.type === "resource") parts.push(c.resource?.text ?? `[resource ${c.resource?.uri ?? ""}]`);
    else if (c.type === "resource_link") parts.push(`[resource link ${(c as { uri?: string }).uri ?? ""}]`);
    else parts.push(`[${c.type} content]`);
  }
  if (parts.length === 0 && r.structuredContent !== undefined) parts.push(JSON.stringify(r.structuredContent));
  const capped = capOutput(parts.join("\n"));
  return { ...capped, isError: r.isError === true };
}
