import type { Client } from "@modelcontextprotocol/sdk/client/index.js";
import type { Transport } from "@modelcontextprotocol/sdk/shared/transport.js";
import type { Writable } from "node:stream";
import { PodError, type ErrorCode } from "../../errors.js";
import type { ManifestData } from "../../manifest.js";
import { VERSION } from "../../version.js";
import { proxyFetch } from "../../provider/upstream-proxy.js";
import { commandEnv, CREDENTIAL_VARS, hiddenPathHint, hostSystem, type Confinement } from "../../sandbox/index.js";
import type { Tool } from "../types.js";
import { expandAll } from "./expand.js";
import { ConfinedStdioTransport } from "./stdio.js";
import { mcpTool, type McpToolDef } from "./tool.js";
import { hostEnv } from "../../env-config.js";

export type McpConfig = ManifestData["mcp"];
export type McpServerConfig = McpConfig[string];

/** A server that could not start: reported as one `error` event (or the run fails, when `required`). */
export interface McpFailure {
  server: string;
  required: boolean;
  /** tool_error, or sandbox_unavailable when no sandbox can start for it. */
  code: ErrorCode;
  message: string;
}

export interface McpServers {
  tools: Tool[];
  failures: McpFailure[];
  /** Stops every server (stdio trees are killed), all at once and within SHUTDOWN_MS; never throws. */
  close(): Promise<void>;
}

export interface McpStartOptions {
  /** Where stdio servers run: the workspace (the scope root, or the manifest's directory). */
  cwd: string;
  env?: NodeJS.ProcessEnv;
  /** The sandbox a stdio server runs in (src/sandbox/confine.ts, bound to the run's protection policy by src/runtime/extensions.ts). */
  confine(name: string, server: McpServerConfig): Promise<Confinement>;
  /** After each tool call: a server may have made hardlinks in the scope, so the file tools' inode sets are stale. */
  afterCall?: (() => void) | undefined;
  /** Where the servers' stderr goes (pod's stderr). */
  stderr?: Writable;
}

/** All servers are closed within this long after run_end, however they behave (issue 23 item 4). */
const SHUTDOWN_MS = 1000;

/**
 * Starts every configured MCP server side by side, each within its startup_timeout_s,
 * and lists its tools. Servers live as long as this invocation: `close()` ends them.
 * A stdio server runs confined (ConfinedStdioTransport over spawnConfined): its own
 * PID namespace, the workspace as Bash sees it, its `[mcp.*] network`, only its `env`.
 */
export async function startMcpServers(config: McpConfig, opts: McpStartOptions): Promise<McpServers> {
  const env = opts.env ?? hostEnv();
  const entries = Object.entries(config);
  if (entries.length === 0) return { tools: [], failures: [], close: async () => {} };
  const sdk = await import("./sdk.js");

  const started = await Promise.all(
    entries.map(async ([name, server]) => {
      const client = new sdk.Client({ name: "pod", version: VERSION });
      let transport: Transport | undefined;
      try {
        transport = await makeTransport(name, server, opts, env, sdk);
        const timeoutMs = server.startup_timeout_s * 1000;
        const listed = await withTimeout(
          (async () => {
            await client.connect(transport, { timeout: timeoutMs });
            return client.listTools(undefined, { timeout: timeoutMs });
          })(),
          timeoutMs,
          `did not start within ${server.startup_timeout_s}s (startup_timeout_s)`,
        );
        const tools = listed.tools.map((t) => mcpTool(name, client, t as McpToolDef, opts.afterCall));
        return { name, client, transport, tools };
      } catch (err) {
        const e = err instanceof PodError ? err : new PodError("tool_error", err instanceof Error ? err.message : String(err));
        // A stdio server that died at start: how it ended and its stderr's last lines say why ("Connection closed" does not).
        const why = transport instanceof ConfinedStdioTransport && e.code !== "sandbox_unavailable" ? await diagnose(name, transport, server, e.message) : undefined;
        await client.close().catch(() => {});
        await transport?.close().catch(() => {});
        const failure: McpFailure = {
          server: name,
          required: server.required,
          code: e.code === "sandbox_unavailable" ? e.code : "tool_error",
          message: `MCP server "${name}" failed to start: ${why ?? (e.code === "sandbox_unavailable" ? e.full : e.message)}`,
        };
        return { name, client: undefined, transport: undefined, tools: [] as Tool[], failure };
      }
    }),
  );
  return {
    tools: started.flatMap((s) => s.tools),
    failures: started.flatMap((s) => ("failure" in s && s.failure ? [s.failure] : [])),
    close: async () => {
      const all = Promise.all(
        started.map(async (s) => {
          // An HTTP server's session is ended (DELETE with its Mcp-Session-Id), not left to expire.
          if (s.client && s.transport && "terminateSession" in s.transport) {
            await withTimeout((s.transport as { terminateSession(): Promise<void> }).terminateSession(), SESSION_END_MS, "").catch(() => {});
          }
          await s.client?.close().catch(() => {});
        }),
      );
      // Past the deadline pod goes on: what is left of a stdio tree is SIGKILLed at the latest when pod exits.
      await withTimeout(all, SHUTDOWN_MS, "").catch(() => {});
    },
  };
}

/**
 * Why a stdio server that ended while starting failed, in its own words: how it ended
 * and its stderr's last lines ("Connection closed" alone says nothing), plus the `read`
 * entry that would show a path it could not find. Undefined while it still runs.
 */
async function diagnose(name: string, t: ConfinedStdioTransport, server: McpServerConfig, sdkMessage: string): Promise<string | undefined> {
  // Closed by pod (after a start-up timeout) or still running: the first error says it.
  if (t.closing) return undefined;
  const ended = await t.ending(100);
  if (!ended || ended.exit.stopped !== undefined || t.closing) return undefined;
  const { exit, stderrTail } = ended;
  const how = exit.error ?? (exit.signal ? `it was killed by ${exit.signal}` : `it exited with code ${exit.code}`);
  let hint: string | undefined;
  if (stderrTail && server.command && t.options.kind === "bwrap") {
    hint = await hiddenPathHint({ output: stderrTail, command: server.command.join(" "), exitCode: exit.code, policy: t.options.policy, host: hostSystem(), key: `[mcp.${name}] read` }).catch(() => undefined);
  }
  const said = stderrTail ? `; the last lines of its stderr:\n${stderrTail}` : "; it wrote nothing to stderr";
  return `${how} before it answered (${sdkMessage})${said}${hint ? `\n${hint}` : ""}`;
}

type Sdk = typeof import("./sdk.js");

async function makeTransport(name: string, server: McpServerConfig, opts: McpStartOptions, env: NodeJS.ProcessEnv, sdk: Sdk): Promise<Transport> {
  if (server.command) {
    const expanded = expandAll(server.env, env);
    if ("missing" in expanded) throw new Error(`env ${expanded.key} refers to $${expanded.missing}, which is not set in pod's environment`);
    const confined = await opts.confine(name, server);
    if (!confined.ok) throw confined.error;
    // The same minimal base as Bash, plus what `env` gives; never the provider credential, whatever `env` says.
    const serverEnv: Record<string, string> = { ...commandEnv({ env: [] }, env), ...expanded.values };
    for (const k of CREDENTIAL_VARS) delete serverEnv[k];
    return new ConfinedStdioTransport(
      { kind: confined.kind, policy: confined.policy, argv: server.command, cwd: opts.cwd, env: serverEnv },
      { ReadBuffer: sdk.ReadBuffer, serializeMessage: sdk.serializeMessage },
      opts.stderr,
    );
  }
  if (server.url) {
    const expanded = expandAll(server.headers, env);
    if ("missing" in expanded) throw new Error(`headers ${expanded.key} refers to $${expanded.missing}, which is not set in pod's environment`);
    // HTTPS_PROXY/HTTP_PROXY/NO_PROXY apply as they do to the model's requests (provider/upstream-proxy.ts).
    const proxied = await proxyFetch(server.url, env);
    const fetch = proxied
      ? (url: string | URL, init?: RequestInit) => proxied.fetch(url, { ...init, ...proxied.fetchOptions } as RequestInit)
      : undefined;
    return new sdk.StreamableHTTPClientTransport(new URL(server.url), { requestInit: { headers: expanded.values }, ...(fetch ? { fetch } : {}) });
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
