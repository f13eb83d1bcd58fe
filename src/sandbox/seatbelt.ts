import { protectOps } from "./bwrap.js";
import type { SandboxPolicy } from "./policy.js";
import type { HostSystem } from "./system.js";

/**
 * The macOS rendering of the policy, for `sandbox-exec -p <profile>`: a pure function
 * (golden tests pin it on Linux, test/unit/sandbox-render.test.ts).
 * UNTESTED on a Mac: pod's CI runs on Linux. Seatbelt matches paths, not mounts, and
 * the last matching rule wins, so the profile goes from the widest rule to the
 * narrowest:
 * - everything allowed, then file reads denied except the system paths (system.ts),
 *   the writable dirs, the private temp dir and `read` — metadata stays readable
 *   everywhere, so a process can still walk to its own directory (getcwd, realpath);
 * - writes denied except the writable dirs, the temp dir and a few devices;
 * - the protection policy's view: read-only paths and placeholders' paths (a missing
 *   protected path) unwritable, pinned directories unrenamable (the literal path, not
 *   what is inside), masked paths unreadable; a sanitized file (a git config holding a
 *   credential) cannot be shown as a copy here, so it is unreadable too;
 * - the network: none unless `true`, and then no unix socket (the host's daemons'),
 *   as on Linux. A host list gives no network here: the forwarder needs a network
 *   namespace.
 * Differences no profile can fix: no PID namespace (a setsid() child can outlive the
 * call), and no /proc to hide (other processes' environments are protected by the OS
 * for other users' processes only).
 */
export function seatbeltProfile(policy: SandboxPolicy, tmpDir: string, host: HostSystem): string {
  const q = (p: string) => `"${p.replace(/["\\]/g, "\\$&")}"`;
  const sub = (p: string) => `(subpath ${q(p)})`;
  const lit = (p: string) => `(literal ${q(p)})`;
  const lines = ["(version 1)", "(allow default)"];
  const readable = [...host.paths.map((p) => p.path), ...policy.writable, tmpDir, ...policy.read];
  lines.push("(deny file-read-data)", `(allow file-read-data ${lit("/")} ${readable.map(sub).join(" ")})`);
  if (host.secrets.length > 0) lines.push(`(deny file-read* ${host.secrets.map((s) => (s.dir ? sub(s.path) : lit(s.path))).join(" ")})`);
  lines.push("(deny file-write*)", `(allow file-write* ${[...policy.writable, tmpDir].map(sub).join(" ")} ${["/dev/null", "/dev/tty", "/dev/zero"].map(lit).join(" ")})`);
  for (const op of protectOps(policy)) {
    if (op.kind === "pinned") lines.push(`(deny file-write* ${lit(op.path)})`);
    else if (op.kind === "readOnly" || op.kind === "absent") lines.push(`(deny file-write* ${sub(op.path)})`);
    else lines.push(`(deny file-read* file-write* ${op.kind === "masked" && op.dir ? sub(op.path) : lit(op.path)})`);
  }
  if (policy.network === true) lines.push("(deny network-outbound (remote unix-socket))");
  else lines.push("(deny network*)");
  return lines.join("\n");
}
