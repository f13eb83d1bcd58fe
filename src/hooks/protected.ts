import path from "node:path";
import type { HookConfig } from "./hooks.js";

/** Programs that run the script named after them (`sh hooks/check.sh`, `python3 tools/mcp.py`, `npx tsx x.ts`). */
const INTERPRETERS = new Set(["sh", "bash", "dash", "zsh", "ksh", "node", "nodejs", "deno", "bun", "tsx", "ts-node", "python", "python2", "python3", "ruby", "perl", "php", "pwsh"]);
/** Words before the program that only prefix it (`env FOO=1 node x.js`, `npx tsx x.ts`, `exec ./x.sh`). */
const PREFIXES = new Set(["env", "exec", "npx", "nice", "nohup", "time", "command"]);
const SCRIPT_EXT = /\.(sh|bash|js|mjs|cjs|ts|mts|cts|py|rb|pl|php|ps1)$/;

/**
 * The script a command runs: its program when that is a path (`./scripts/guard.sh`),
 * or the first argument of an interpreter (`sh hooks/check.sh`, `node tools/mcp.mjs`,
 * `deno run x.ts` takes its first non-option word after a subcommand-less run).
 * A package name (`npx -y @modelcontextprotocol/server-github`) is not a script.
 */
export function scriptOf(words: readonly string[]): string | undefined {
  let i = 0;
  while (i < words.length && (PREFIXES.has(words[i]!) || /^[A-Za-z_][A-Za-z0-9_]*=/.test(words[i]!) || (i > 0 && PREFIXES.has(words[i - 1]!) && words[i]!.startsWith("-")))) i++;
  const program = words[i];
  if (program === undefined || program.includes("$") || program.startsWith("@") || /^[a-z]+:\/\//.test(program)) return undefined;
  if (program.includes("/")) return program;
  if (!INTERPRETERS.has(path.basename(program))) return undefined;
  for (const w of words.slice(i + 1)) {
    if (w.startsWith("-") || w === "run") continue;
    return !w.includes("$") && (w.includes("/") || SCRIPT_EXT.test(w)) && !w.startsWith("@") ? w : undefined;
  }
  return undefined;
}

/** A hook command split into its simple commands' words (as `sh -c` would run them; quotes removed, no expansion). */
function commandsOf(command: string): string[][] {
  return command
    .split(/&&|\|\||[;|&\n]/)
    .map((part) => part.trim().split(/\s+/).filter(Boolean).map((w) => w.replace(/^['"]|['"]$/g, "")))
    .filter((ws) => ws.length > 0);
}

/**
 * The files pod trusts because a hook or an MCP stdio server runs them (issue 21: a
 * script the model could edit would run its code with pod's rights). Each script is
 * resolved against every directory it could be relative to (the manifest's, the hook's
 * working directory); src/policy/ then protects the file, the directory holding it,
 * and every directory above it up to the scope root.
 */
export function trustedScripts(hooks: HookConfig, mcp: Record<string, { command?: string[] | undefined }>, dirs: readonly string[]): string[] {
  const scripts: string[] = [];
  for (const h of [...hooks.pre_tool_use, ...hooks.post_tool_use, ...hooks.stop]) {
    for (const words of commandsOf(h.command)) {
      const s = scriptOf(words);
      if (s) scripts.push(s);
    }
  }
  for (const server of Object.values(mcp)) {
    const s = server.command ? scriptOf(server.command) : undefined;
    if (s) scripts.push(s);
  }
  const out = new Set<string>();
  for (const s of scripts) for (const dir of dirs) out.add(path.resolve(dir, s));
  return [...out];
}
