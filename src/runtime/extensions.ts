import path from "node:path";
import { PodError } from "../errors.js";
import type { EventSink } from "../events/sink.js";
import { stopHooks, withToolHooks } from "../hooks/hooks.js";
import type { Pins } from "../contract/pins.js";
import type { Manifest } from "../manifest.js";
import type { Toolbox } from "../tools/index.js";
import { startMcpServers, type McpFailure } from "../tools/mcp/servers.js";

/**
 * What the manifest adds to the built-in tools (docs/extending.md): MCP servers'
 * tools and the user's hooks. Started once per invocation, closed with it.
 */
export interface Extensions {
  /** Servers that did not start and were not required: one `error` event each, once the run has started. */
  failures: McpFailure[];
  /** The built-in tools plus the MCP tools, minus [tools] disabled, wrapped in the tool hooks: one Toolbox. */
  toolbox(builtins: Toolbox | undefined): Toolbox | undefined;
  /** The stop hooks for the run loop (undefined without any). */
  onStop: ((signal: AbortSignal) => Promise<string | undefined>) | undefined;
  close(): Promise<void>;
}

/**
 * Starts the MCP servers. Throws a PodError when a `required` server fails (the run does not
 * start), or `contract_changed` when a pinned input (an MCP server's script above all)
 * changed since it was pinned. Hook and MCP scripts are protected through the pins
 * (src/contract/), not here.
 */
export async function startExtensions(manifest: Manifest, sink: EventSink, pins?: Pins): Promise<Extensions> {
  const manifestDir = path.dirname(manifest.file);
  const cwd = manifest.scopeRoot ?? manifestDir;
  const { hooks, mcp: mcpConfig, tools: toolsConfig } = manifest.data;
  const changed = pins?.verify();
  if (changed) throw changed;
  const mcp = await startMcpServers(mcpConfig, { cwd });
  const required = mcp.failures.find((f) => f.required);
  if (required) {
    await mcp.close();
    throw new PodError("tool_error", required.message, `fix or remove [mcp.${required.server}], or set required = false to run without it`);
  }
  const hookEnv = { sink, cwd, pins };
  const disabled = new Set<string>(toolsConfig.disabled);
  return {
    failures: mcp.failures,
    toolbox(builtins) {
      const all = [...(builtins?.tools ?? []), ...mcp.tools].filter((t) => !disabled.has(t.name));
      if (!builtins && all.length === 0) return undefined;
      return { tools: withToolHooks(all, hooks, hookEnv), touchedFiles: () => builtins?.touchedFiles() ?? { read: [], written: [] } };
    },
    onStop: stopHooks(hooks, hookEnv),
    close: () => mcp.close(),
  };
}
