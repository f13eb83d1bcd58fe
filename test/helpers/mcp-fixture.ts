import { realpathSync } from "node:fs";
import path from "node:path";
import { REPO_ROOT } from "./pod-process.js";

/** The real MCP server the tests start (the SDK's, over stdio). */
export const MCP_FIXTURE = path.join(REPO_ROOT, "test/fixtures/mcp/server.mjs");

/**
 * What a stdio server started from this checkout needs to see in its sandbox, which shows
 * only the system directories and the scope: the checkout (the fixture) and the
 * node_modules it imports the SDK from (a symlink in a worktree: its real place), and
 * node's own install dir when it is not under /usr (a CI runner's tool cache).
 */
export function mcpFixtureRead(): string[] {
  const read = [REPO_ROOT, realpathSync(path.join(REPO_ROOT, "node_modules"))];
  const prefix = path.dirname(path.dirname(realpathSync(process.execPath)));
  if (!prefix.startsWith("/usr")) read.push(prefix);
  return read;
}

/** A `[mcp.NAME]` entry that starts the fixture with node (extra args after the script), plus `extra` lines. */
export function stdioServer(name: string, extra = "", args: string[] = []): string {
  const command = [process.execPath, MCP_FIXTURE, ...args].map((a) => JSON.stringify(a)).join(", ");
  return `\n[mcp.${name}]\ncommand = [${command}]\nread = ${JSON.stringify(mcpFixtureRead())}\n${extra}\n`;
}
