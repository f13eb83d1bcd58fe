import type { Client } from "@modelcontextprotocol/sdk/client/index.js";
import type { Transport } from "@modelcontextprotocol/sdk/shared/transport.js";
import type { ManifestData } from "../../manifest.js";
import { VERSION } from "../../version.js";
import { proxyFetch } from "../../provider/proxy.js";
import type { Tool } from "../types.js";
import { baseEnv, expandAll } from "./expand.js";
import { mcpTool, type McpToolDef } from "./tool.js";

export type McpConfig = ManifestData["mcp"];

/** A server that could not start: reported as one `error` event (or the run fails, when `required`). */
export interface McpFailure {
  server: string;
  required: boolean;
  message: string;
}

export interface McpServers {
  tools: Tool[];
  failures: McpFailure[];
  /** Stops every server (stdio children are killed); never throws. */
  close(): Promise<void>;
}

/**
 * Starts every configured MCP server in parallel, each within its startup_timeout_s,
 * and lists its tools. Servers live as long as this invocation: `close()` ends them.
 * `cwd` is where stdio servers run (the scope root, or the manifest's directory).
 */
export async function startMcpServers(config: McpConfig, opts: { cwd: string; env?: NodeJS.ProcessEnv }): Promise<McpServers> {
  const env = opts.env ?? process.env;
  const entries = Object.entries(config);
  if (entries.length === 0) return { tools: [], failures: [], close: async () => {} };
  const { Client } = await import("./sdk.js");

  const started = await Promise.all(
    entries.map(async ([name, server]) => {
      const client = new Client({ name: "pod", version: VERSION });
      let transport: Transport | undefined;
      try {
        transport = await makeTransport(name, server, opts.cwd, env);
        const timeoutMs = server.startup_timeout_s * 1000;
        const listed = await withTimeout(
          (async () => {
            await client.connect(transport, { timeout: timeoutMs });
            return client.listTools(undefined, { timeout: timeoutMs });
          })(),
          timeoutMs,
          `did not start within ${server.startup_timeout_s}s (startup_timeout_s)`,
        );
        const tools = listed.tools.map((t) => mcpTool(name, client, t as McpToolDef));
        return { name, client, transport, tools };
      } catch (err) {
        await client.close().catch(() => {});
        const failure: McpFailure = { server: name, required: server.required, message: `MCP server "${name}" failed to start: ${(err as Error).message}` };
        return { name, client: undefined, tools: [] as Tool[], failure };
      }
    }),
  );
  return {
    tools: started.flatMap((s) => s.tools),
    failures: started.flatMap((s) => ("failure" in s && s.failure ? [s.failure] : [])),
    close: async () => {
      await Promise.all(
        started.map(async (s) => {
          // An HTTP server's session is ended (DELETE with its Mcp-Session-Id), not left to expire.
          if (s.client && s.transport && "terminateSession" in s.transport) {
            await withTimeout((s.transport as { terminateSession(): Promise<void> }).terminateSession(), SESSION_END_MS, "").catch(() => {});
          }
          await s.client?.close().catch(() => {});
        }),
      );
    },
  };
}

async function makeTransport(name: string, server: McpConfig[string], cwd: string, env: NodeJS.ProcessEnv): Promise<Transport> {
  if (server.command) {
    const expanded = expandAll(server.env, env);
    if ("missing" in expanded) throw new Error(`env ${expanded.key} refers to $${expanded.missing}, which is not set in pod's environment`);
    const { StdioClientTransport } = await import("./sdk.js");
    const [command, ...args] = server.command;
    // The server's stderr is diagnostics: it goes to pod's stderr, never to stdout (the event stream).
    return new StdioClientTransport({ command: command!, args, cwd, env: { ...baseEnv(env), ...expanded.values }, stderr: "inherit" });
  }
  if (server.url) {
    const expanded = expandAll(server.headers, env);
    if ("missing" in expanded) throw new Error(`headers ${expanded.key} refers to $${expanded.missing}, which is not set in pod's environment`);
    const { StreamableHTTPClientTransport } = await import("./sdk.js");
    // HTTPS_PROXY/HTTP_PROXY/NO_PROXY apply as they do to the model's requests (provider/proxy.ts).
    const proxied = await proxyFetch(server.url, env);
    const fetch = proxied
      ? (url: string | URL, init?: RequestInit) => proxied.fetch(url, { ...init, ...proxied.fetchOptions } as RequestInit)
      : undefined;
    return new StreamableHTTPClientTransport(new URL(server.url), { requestInit: { headers: expanded.values }, ...(fetch ? { fetch } : {}) });
  }
  throw new Error(`[mcp.${name}] needs either command or url`);
}

/** How long pod waits for an HTTP server to acknowledge the end of its session at exit. */
const SESSION_END_MS = 1000;

async function withTimeout<T>(p: Promise<T>, ms: number, message: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  try {
    return await Promise.race([p, new Promise<never>((_, reject) => (timer = setTimeout(() => reject(new Error(message)), ms)))]);
  } finally {
    clearTimeout(timer);
  }
}

/** The Client type, for callers that hold one. */
export type { Client };
