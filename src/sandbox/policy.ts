import { homedir } from "node:os";
import path from "node:path";
import type { ProtectedView } from "../policy/protection.js";
import { hostEnv } from "../env-config.js";

/**
 * What one confined process may see and do: plain data, rendered by bwrap.ts (Linux)
 * and seatbelt.ts (macOS). Who builds it: the Bash tool from the manifest's
 * [scope] and [tools.bash] and the protection policy's view (src/policy/); hooks,
 * MCP stdio servers and pod's own git the same way, with their own `writable`,
 * `read` and `network`.
 */
export interface SandboxPolicy {
  /** Directories the process may write (Bash: the scope root). Everything else it sees is read-only. */
  writable: string[];
  /** Host paths shown read-only besides the system directories (`[tools.bash] read`, `~` expanded; missing ones are skipped). */
  read: string[];
  /** What the protection policy says about the paths inside `writable` (read-only, masked, absent, pinned, sanitized). */
  protect: ProtectedView;
  /** false: no network at all; true: the host's network, without unix sockets; string[]: only these hosts, through pod's proxy. */
  network: boolean | string[];
}

/** Nothing to protect: for a process whose writable dirs hold no pod state (and for `sandbox = "off"`, where nothing is enforced). */
export const NOTHING_PROTECTED: ProtectedView = { readOnly: [], masked: [], absent: [], pinned: [], sanitized: [] };

/** The provider credential never enters a confined process, whatever `env` says (the manifest refuses it too). */
export const CREDENTIAL_VARS = new Set(["ANTHROPIC_API_KEY", "ANTHROPIC_AUTH_TOKEN"]);

/** HOME and TMPDIR inside the sandbox: a private tmpfs, empty at each call. */
export const SANDBOX_TMP = "/tmp";
export const SANDBOX_HOME = "/tmp/home";

/**
 * A command's environment: a minimal base plus the names the manifest lists.
 * Nothing else of pod's environment (CI secrets, cloud keys) reaches a command.
 * HOME and TMPDIR are set by the runner (spawn.ts) to the private ones.
 */
export function commandEnv(bash: { env: readonly string[] }, from: NodeJS.ProcessEnv = hostEnv()): Record<string, string> {
  const env: Record<string, string> = {
    PATH: from.PATH ?? "/usr/local/bin:/usr/bin:/bin",
    HOME: SANDBOX_HOME,
    LANG: from.LANG ?? "C.UTF-8",
    TERM: "dumb",
    TMPDIR: SANDBOX_TMP,
    // Tools run non-interactively (no watch mode, no prompts) unless the caller says otherwise.
    CI: from.CI ?? "true",
  };
  for (const name of bash.env) {
    if (CREDENTIAL_VARS.has(name)) continue;
    const v = from[name];
    if (v !== undefined) env[name] = v;
  }
  return env;
}

/** `~` and `~/…` in a `read` entry are the real home (the user's, not the sandbox's). */
export function expandHome(p: string, home: string = homedir()): string {
  if (p === "~") return home;
  if (p.startsWith("~/")) return path.join(home, p.slice(2));
  return p;
}
