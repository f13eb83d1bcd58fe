import type { SandboxPolicy } from "./policy.js";

/**
 * The macOS rendering of the policy, for `sandbox-exec -p <profile>`.
 * UNTESTED: pod's CI runs on Linux; this has never run on a Mac. It follows the
 * shape of the profiles other agents use (deny by default for writes and network,
 * allow reads except the masked paths). Differences from Linux that no profile can
 * fix: there is no PID namespace, so a process that calls setsid() can outlive the
 * call's process group, and /proc does not exist (other processes' environments are
 * protected by the OS for processes of other users only).
 */
export function seatbeltProfile(policy: SandboxPolicy, tmpDir: string): string {
  const q = (p: string) => `"${p.replace(/["\\]/g, "\\$&")}"`;
  const lines = [
    "(version 1)",
    "(allow default)",
    "(deny file-write*)",
    `(allow file-write* (subpath ${q(policy.root)}) (subpath ${q(tmpDir)}) (literal "/dev/null") (literal "/dev/tty"))`,
  ];
  for (const p of policy.readOnly) lines.push(`(deny file-write* (subpath ${q(p)}))`);
  for (const m of policy.masked) lines.push(`(deny file-read* file-write* (${m.dir ? "subpath" : "literal"} ${q(m.path)}))`);
  if (policy.network !== true) {
    lines.push("(deny network*)");
    // The allowlist proxy listens on loopback; only it may be reached.
    if (Array.isArray(policy.network)) lines.push('(allow network-outbound (remote ip "localhost:*"))');
  }
  return lines.join("\n");
}
