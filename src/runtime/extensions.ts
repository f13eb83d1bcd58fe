import { realpath } from "node:fs/promises";
import path from "node:path";
import { PodError } from "../errors.js";
import type { EventSink } from "../events/sink.js";
import { stopHooks, withToolHooks, type HookEnv } from "../hooks/hooks.js";
import { hookReports } from "./emit.js";
import type { Pins } from "../contract/pins.js";
import type { Manifest } from "../manifest.js";
import { protectedPaths } from "../policy/protected.js";
import { Protection } from "../policy/protection.js";
import { confinementFor } from "../sandbox/index.js";
import type { Toolbox } from "../tools/index.js";
import { startMcpServers, type McpFailure } from "../tools/mcp/servers.js";

/**
 * What the manifest adds to the built-in tools (docs/extending.md): MCP servers'
 * tools and the user's hooks. Started once per invocation, closed with it.
 */
export interface Extensions {
  /** Servers that did not start and were not required: one `error` event each, once the run has started. */
  failures: McpFailure[];
  /**
   * The run's one protection policy, rooted at the workspace: hooks and MCP stdio servers
   * run in its sandbox view, and the built-in tools get it too (createToolbox's third
   * argument), so there is one walk of the scope and one set of inode checks to forget.
   */
  protection: Protection;
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
 * (src/contract/), not here; what they can do when they run is the sandbox's
 * (src/sandbox/confine.ts): the same as Bash.
 */
export async function startExtensions(manifest: Manifest, sink: EventSink, pins: Pins | undefined, runtimeDir: string): Promise<Extensions> {
  const { hooks, mcp: mcpConfig, tools: toolsConfig } = manifest.data;
  const changed = pins?.verify();
  if (changed) throw changed;
  const protection = await workspaceProtection(manifest, runtimeDir, pins);
  const cwd = protection.root;
  // The toolchain the operator showed Bash (`pod init` puts a Node under /opt there) is shown to hooks and servers too.
  const alsoRead = toolsConfig.bash.read;
  const afterRun = () => protection.forgetLinks();
  const hookList = [...hooks.pre_tool_use, ...hooks.post_tool_use, ...hooks.stop];
  // The sandbox's view (one walk of the scope) is computed while the run starts, not at the first hook.
  if (hookList.some((h) => h.sandbox !== "off")) void protection.prepare().catch(() => {});

  const mcp = await startMcpServers(mcpConfig, {
    cwd,
    confine: (name, server) => confinementFor({ settings: server, protection, alsoRead, who: `MCP server "${name}"`, offKey: `[mcp.${name}]` }),
    afterCall: afterRun,
  });
  const required = mcp.failures.find((f) => f.required);
  if (required) {
    await mcp.close();
    const fix = required.code === "sandbox_unavailable" ? "install bubblewrap, set sandbox = \"off\" in that entry (unconfined, at your own risk), or required = false to run without it" : "or set required = false to run without it";
    throw new PodError(required.code, required.message, `fix or remove [mcp.${required.server}], ${fix}`);
  }
  const hookEnv: HookEnv = {
    ...hookReports(sink),
    cwd,
    pins,
    confine: (hook, name, signal) => confinementFor({ settings: hook, protection, alsoRead, who: `the ${name} hook \`${hook.command}\``, offKey: `[[hooks.${name}]] entry`, signal }),
    afterRun,
  };
  const disabled = new Set<string>(toolsConfig.disabled);
  return {
    failures: mcp.failures,
    protection,
    toolbox(builtins) {
      const all = [...(builtins?.tools ?? []), ...mcp.tools].filter((t) => !disabled.has(t.name));
      if (!builtins && all.length === 0) return undefined;
      return { tools: withToolHooks(all, hooks, hookEnv), protection, touchedFiles: () => builtins?.touchedFiles() ?? { read: [], written: [] } };
    },
    onStop: stopHooks(hooks, hookEnv),
    close: () => mcp.close(),
  };
}

/**
 * The protection policy of the workspace the model can write: the scope root, or the
 * manifest's directory without [scope] (where hooks and MCP servers run). The same
 * inputs the built-in tools' policy is made of (src/runtime/invocation.ts).
 */
async function workspaceProtection(manifest: Manifest, runtimeDir: string, pins: Pins | undefined): Promise<Protection> {
  const root = manifest.scopeRoot ?? (await realpath(path.dirname(manifest.file)));
  const set = await protectedPaths({ manifestFile: manifest.file, runtimeDir, scopeRoot: root, trusted: pins?.files(), trustedDirs: pins?.directories() });
  return new Protection({ root, deny: manifest.data.scope?.deny ?? [], ...set });
}
