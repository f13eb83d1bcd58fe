import os from "node:os";
import path from "node:path";
import type { Manifest } from "../manifest.js";
import { BUILT_IN_TOOLS, TOOL_NAMES } from "../tools/registry.js";
import { readGitState } from "./git-state.js";

/** Where the agent works: the scope root, or the manifest's directory when the pod has no file tools. */
export function workspaceRoot(manifest: Manifest): string {
  return manifest.scopeRoot ?? path.dirname(manifest.file);
}

/** "Linux x64", "macOS arm64", …: stable for a machine, unlike the kernel release. */
export function osName(platform = process.platform, arch = os.arch()): string {
  const names: Partial<Record<NodeJS.Platform, string>> = { linux: "Linux", darwin: "macOS", win32: "Windows", freebsd: "FreeBSD" };
  return `${names[platform] ?? platform} ${arch}`;
}

/** Today in UTC at day precision: the prompt is then byte-identical all day (prompt caching). */
export function dayStamp(now = new Date()): string {
  return now.toISOString().slice(0, 10);
}

/**
 * The branch and whether tracked files have uncommitted changes, in one line. Read as
 * data (git-state.ts), never by running git: git would run the repository's
 * configuration (core.fsmonitor, hooks) with pod's environment, and the model can plant
 * that (issue 21). Untracked files are not counted (the runtime directory and build
 * output would make every tree look dirty, and listing them is slow in big trees).
 */
export async function gitState(cwd: string): Promise<string> {
  return readGitState(cwd);
}

/** A path as the prompt names it: relative to the workspace root when inside it, else absolute. */
export function shownPath(manifest: Manifest, p: string): string {
  const r = path.relative(workspaceRoot(manifest), p);
  return r === "" ? "." : r.startsWith("..") || path.isAbsolute(r) ? p : r;
}

const list = (items: readonly string[]) => items.map((i) => JSON.stringify(i)).join(", ");

/**
 * The tools the model can call, each with its real limits, as Markdown bullets.
 * Derived from the manifest (not from the live toolbox) so `pod prompt` prints
 * exactly what a run sends without starting anything. MCP tools are named by their
 * servers (`mcp__<server>__*`): which tools a server has is known only once it runs,
 * and each tool's own description reaches the model with the tool (docs/prompt.md).
 */
export function describeTools(manifest: Manifest, runtimeDir: string, runtimeDirAsShown?: string): string {
  const { scope, tools } = manifest.data;
  const visible = new Set<string>(visibleBuiltInTools(manifest));
  const servers = Object.keys(manifest.data.mcp).sort();
  if (visible.size === 0 && servers.length === 0) return "You have no tools in this pod: work from the conversation alone.";
  const rel = (p: string) => shownPath(manifest, p);
  const lines: string[] = [];
  const file = TOOL_NAMES.filter((t) => BUILT_IN_TOOLS[t].room === "file" && visible.has(t));
  if (file.length > 0) {
    lines.push(`- File tools: ${file.join(", ")}. Every path is relative to the workspace root and confined to it: absolute paths, \`..\` and symlinks that lead outside are refused.`);
    if (file.some((t) => !BUILT_IN_TOOLS[t].readOnly)) {
      lines.push(`- Writable: ${scope?.writable ? list(scope.writable) : "everything under the workspace root"} (except the protected paths below).`);
    }
    if ((scope?.deny ?? []).length > 0) lines.push(`- Denied (neither readable nor writable): ${list(scope!.deny)}.`);
    lines.push(
      `- Protected, never writable by any tool or command: the pod's manifest (${rel(manifest.file)}) and .git/; the runtime directory (${runtimeDirAsShown ?? rel(runtimeDir)}) is also invisible.`,
    );
  }
  if (visible.has("Bash")) {
    const b = tools.bash;
    const network = b.network === true ? "allowed" : b.network === false ? "off" : `only to ${list(b.network)}`;
    const sandbox =
      b.sandbox === "off"
        ? "not sandboxed (sandbox = \"off\")"
        : "runs inside an OS sandbox (writes only inside the workspace, protected paths read-only, a private /tmp)";
    lines.push(
      `- Bash: only commands matching ${b.allow.length ? list(b.allow) : "(none: every command is refused)"} (* matches anything; chaining, pipes and redirection only where a pattern spells them out); timeout ${b.timeout_s}s per command; ${sandbox}; network ${network}.`,
    );
  }
  if (servers.length > 0) {
    const names = servers.map((s) => JSON.stringify(s)).join(", ");
    lines.push(
      `- MCP tools from the server${servers.length === 1 ? "" : "s"} ${names} (named mcp__<server>__<tool>, e.g. ${mcpPrefix(servers[0]!)}…): each comes with its own description. A server that fails to start has no tools in the run.`,
    );
  }
  // Gated MCP tools are named exactly in [tools] ask; only those of a configured server can be called.
  const mcpPrefixes = servers.map(mcpPrefix);
  const disabled = new Set(tools.disabled);
  const gated = tools.ask.filter((t) => visible.has(t) || (!disabled.has(t) && mcpPrefixes.some((p) => t.startsWith(p))));
  if (gated.length > 0) lines.push(`- These calls pause the run until a person approves them: ${gated.join(", ")}. Prefer other tools when they do the job.`);
  return lines.join("\n");
}

/** The start of a server's tool names, as src/tools/mcp/tool.ts makes them (the API allows [A-Za-z0-9_-]). */
function mcpPrefix(server: string): string {
  return `mcp__${server}__`.replace(/[^A-Za-z0-9_-]/g, "_");
}

/** The built-in tools the model sees: Read…Grep with [scope], Bash when enabled, minus `[tools] disabled`. */
export function visibleBuiltInTools(manifest: Manifest): string[] {
  const { scope, tools } = manifest.data;
  if (!scope) return [];
  const hidden = new Set(tools.disabled);
  return TOOL_NAMES.filter((t) => (BUILT_IN_TOOLS[t].room !== "shell" || tools.bash.enabled) && !hidden.has(t));
}
