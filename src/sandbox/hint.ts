import { lstat } from "node:fs/promises";
import { homedir } from "node:os";
import path from "node:path";
import { SANDBOX_HOME, type SandboxPolicy } from "./policy.js";
import { shownBy, type HostSystem } from "./system.js";
import { hostEnv } from "../env-config.js";

/**
 * Places inside the sandbox that are its own (a path there names the sandbox's, not the
 * host's). Not /tmp as a whole: the sandbox's /tmp is private, so a host path under it (a
 * checkout in /tmp, a script there) is hidden like any other, and a `read` entry shows it.
 */
const OWN = ["/proc", "/dev", SANDBOX_HOME];
const ABSOLUTE = /(?:^|[\s'"`:=(])(\/[A-Za-z0-9._@+-][A-Za-z0-9._@+/-]*)/g;
const NOT_FOUND = /^(?:[^:\n]*: )*(?:line \d+: )?([A-Za-z0-9._+-]+): (?:command )?not found$/m;

/**
 * One line for a command that failed because the path it needed is not shown
 * (issue 22: "say in one line what was hidden and which key shows it"): among the
 * absolute paths in its output and command — and, for "command not found", the
 * program's place on pod's own PATH — the first one that exists on the host but
 * outside the sandbox's view, with the `[tools.bash] read` entry that would show it.
 * Undefined when nothing points at a hidden path. Best effort by design: it reads
 * what the tools print, and stays silent rather than guess.
 */
export async function hiddenPathHint(o: {
  output: string;
  command: string;
  exitCode: number | null;
  policy: SandboxPolicy;
  host: HostSystem;
  hostPath?: string | undefined;
  /** The manifest key that shows a path (default Bash's; a hook's or MCP server's own `read` for those). */
  key?: string | undefined;
}): Promise<string | undefined> {
  const failedOnPath = o.exitCode === 127 || /No such file or directory|not found|ENOENT|cannot access|can't open|Cannot find module/i.test(o.output);
  if (!failedOnPath || o.exitCode === 0) return undefined;
  const shown = [...o.policy.writable, ...o.policy.read];
  const candidates = new Set<string>();
  for (const text of [o.output, o.command]) for (const m of text.matchAll(ABSOLUTE)) candidates.add(m[1]!.replace(/[.,:;]+$/, ""));
  const missing = NOT_FOUND.exec(o.output)?.[1];
  if (missing) for (const dir of (o.hostPath ?? hostEnv().PATH ?? "").split(":")) if (path.isAbsolute(dir)) candidates.add(path.join(dir, missing));
  let checked = 0;
  for (const c of candidates) {
    if (checked++ >= 32) break;
    if (OWN.some((d) => c === d || c.startsWith(d + "/")) || shownBy(o.host, shown, c)) continue;
    if (!(await lstat(c).then(() => true, () => false))) continue;
    const entry = readEntry(c);
    return `[pod: ${c} is outside the sandbox's view; add ${o.key ?? "[tools.bash] read"} = ["${entry}"] to the manifest to show it (read-only)]`;
  }
  return undefined;
}

/**
 * The `read` entry to suggest for a path: the top directory under the home
 * (`~/.nvm`), else at most the first three components (`/opt/hostedtoolcache/node`)
 * — of its directory, for a file.
 */
export function readEntry(p: string, opts: { dir?: boolean; home?: string } = {}): string {
  const rel = path.relative(opts.home ?? homedir(), p);
  if (rel && !rel.startsWith("..") && !path.isAbsolute(rel)) return `~/${rel.split(path.sep)[0]}`;
  const parts = p.split("/").filter(Boolean);
  return "/" + parts.slice(0, Math.min(3, Math.max(1, opts.dir ? parts.length : parts.length - 1))).join("/");
}
