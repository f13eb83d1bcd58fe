import { PodError } from "../errors.js";
import type { Protection } from "../policy/protection.js";
import { detectSandbox, type SandboxKind } from "./detect.js";
import { expandHome, NOTHING_PROTECTED, type SandboxPolicy } from "./policy.js";

/** What a manifest entry says about its sandbox: the `sandbox`, `network` and `read` keys of `[[hooks.*]]` and `[mcp.*]`. */
export interface ConfineSettings {
  sandbox: "required" | "off";
  network: boolean | string[];
  read: readonly string[];
}

export type Confinement = { ok: true; kind: SandboxKind; policy: SandboxPolicy } | { ok: false; error: PodError };

export interface ConfineFor {
  settings: ConfineSettings;
  /** The run's protection policy (the one the file tools and Bash obey); its root is the workspace. */
  protection: Protection;
  /** Read-only paths every confined process of the run sees: the toolchain's (`[tools.bash] read`). */
  alsoRead: readonly string[];
  /** Names the process in the error: "the pre_tool_use hook `./guard.sh`", "MCP server \"github\"". */
  who: string;
  /** Where `sandbox = "off"` would go: "[[hooks.pre_tool_use]] entry", "[mcp.github]". */
  offKey: string;
  signal?: AbortSignal | undefined;
}

/**
 * The sandbox of a process pod starts for the operator's extensions — a hook, an MCP
 * stdio server (issue 21 item 2): the same as a Bash command's, so a script the model
 * managed to change can do no more than Bash could. The workspace is writable with the
 * protection policy's view (protected paths read-only, denied paths and the runtime
 * directory hidden, nothing protected creatable), the system directories and `read`
 * (the toolchain's `[tools.bash] read` and the entry's own) read-only, its own PID
 * namespace and /proc, a private /tmp and HOME, and its own `network`.
 *
 * Where no sandbox can start and the entry does not say `sandbox = "off"`: a
 * `sandbox_unavailable` error naming the process and the fix — never unconfined by
 * surprise.
 */
export async function confinementFor(o: ConfineFor): Promise<Confinement> {
  const d = await detectSandbox(o.settings.sandbox);
  if (!d.ok) {
    const fix = `${d.install ? `${d.install}, or ` : ""}set sandbox = "off" in its ${o.offKey} to run it unconfined at your own risk`;
    return { ok: false, error: new PodError("sandbox_unavailable", `${o.who} runs only inside an OS sandbox, and ${d.reason}`, fix) };
  }
  const read = [...new Set([...o.alsoRead, ...o.settings.read].map((p) => expandHome(p)))];
  const protect = d.kind === "off" ? NOTHING_PROTECTED : await o.protection.sandboxView(o.signal);
  return { ok: true, kind: d.kind, policy: { writable: [o.protection.root], read, protect, network: o.settings.network } };
}
