import { SANDBOX_HOME, SANDBOX_TMP, type SandboxPolicy } from "./policy.js";

/**
 * The bubblewrap argv for one call. Mount order matters: later mounts cover earlier
 * ones, so it goes from the widest (the whole system, read-only) to the narrowest
 * (masks over denied paths).
 *
 * - `--unshare-all`: new user, mount, PID, IPC, UTS, cgroup and network namespaces.
 *   In the new PID namespace /proc shows only the sandbox's own processes, so
 *   nothing inside can read pod's (or any ancestor's) /proc/PID/environ or memory.
 * - `--share-net` only when `network` is true. With an allowlist the network stays
 *   unshared: the only way out is pod's proxy, reached through a bound unix socket.
 * - `--die-with-parent`: if pod dies, the sandbox dies; killing bwrap kills the
 *   namespace's init, and with it every process inside (setsid and double forks too).
 * - `--new-session`: no access to the controlling terminal (TIOCSTI injection).
 * - `--cap-drop ALL`: no capabilities inside, even when pod runs as root.
 */
export function bwrapArgs(policy: SandboxPolicy, inner: string[], extraBinds: Array<{ src: string; dest: string }> = []): string[] {
  const a: string[] = ["--unshare-all"];
  if (policy.network === true) a.push("--share-net");
  a.push("--die-with-parent", "--new-session", "--cap-drop", "ALL");
  a.push("--ro-bind", "/", "/", "--dev", "/dev", "--proc", "/proc", "--tmpfs", SANDBOX_TMP, "--dir", SANDBOX_HOME);
  a.push("--bind", policy.root, policy.root);
  for (const p of policy.readOnly) a.push("--ro-bind", p, p);
  for (const m of policy.masked) {
    if (m.dir) a.push("--tmpfs", m.path, "--remount-ro", m.path);
    else a.push("--ro-bind", "/dev/null", m.path);
  }
  for (const b of extraBinds) a.push("--ro-bind", b.src, b.dest);
  a.push("--chdir", policy.root, "--", ...inner);
  return a;
}
