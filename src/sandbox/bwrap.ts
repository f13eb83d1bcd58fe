import { SANDBOX_HOME, SANDBOX_TMP, type SandboxPolicy } from "./policy.js";
import { SANDBOX_PROXY_SOCKET } from "./proxy.js";
import type { HostSystem } from "./system.js";

export interface BwrapInput {
  policy: SandboxPolicy;
  /** The command inside: [file, ...args]. */
  argv: string[];
  /** The working directory inside (a path that is shown). */
  cwd: string;
  host: HostSystem;
  /** The allowlist proxy's socket on the host, bound at SANDBOX_PROXY_SOCKET. */
  proxySocket?: string | undefined;
  /** Host paths the runner itself needs inside, read-only (node's install dir, for the proxy's forwarder). */
  runnerRead?: readonly string[] | undefined;
  /** A compiled seccomp filter (seccomp.ts) to load. */
  seccomp?: Buffer | undefined;
  /**
   * Host files already holding a sanitized content (content → file, spawn.ts writes
   * them once per process): bound read-only, which is cheaper than passing the content
   * through a descriptor at each call. Content without a file goes by descriptor.
   */
  dataFiles?: ReadonlyMap<string, string> | undefined;
}

export interface BwrapCommand {
  args: string[];
  /** Data bwrap reads from inherited descriptors: fds[i] must be open at descriptor 3 + i. */
  fds: Buffer[];
}

/**
 * The bubblewrap argv for one process: a pure function of its input (golden tests
 * pin it, test/unit/sandbox-render.test.ts). The new root is a tmpfs holding only
 * what is mounted below, and mount order matters — a later mount covers an earlier
 * one — so it goes from the widest to the narrowest:
 *
 * 1. the system allowlist read-only (system.ts);
 * 2. a new /dev, its own /proc, a private /tmp with HOME in it;
 * 3. the `read` paths, read-only (`--ro-bind-try`: a toolchain missing here is skipped);
 * 4. the writable directories;
 * 5. /etc's secrets shown empty, /etc/gitconfig sanitized when it holds a credential;
 * 6. the protection policy's view, shallowest path first: pinned directories bound onto
 *    themselves (a mount point cannot be renamed: EBUSY), read-only paths, sanitized
 *    copies, masks, and an empty read-only placeholder at the first missing component
 *    of each protected path that does not exist yet (bwrap makes the mount point; the
 *    runner removes it after the call, spawn.ts).
 *
 * Namespaces: `--unshare-all` (user, mount, PID, IPC, UTS, cgroup, network): in the
 * new PID namespace /proc shows only the sandbox's processes, so nothing inside can
 * read pod's or an ancestor's /proc/PID/environ. The network is shared only for
 * `network = true`, and then with the seccomp filter that refuses unix sockets (the
 * host's abstract ones live in its network namespace). `--die-with-parent`: pod dies,
 * the sandbox dies, and killing bwrap kills the namespace's init and so every process
 * inside. `--new-session`: no terminal to inject keystrokes into (TIOCSTI).
 * `--cap-drop ALL`: no capabilities, even when pod runs as root.
 */
export function bwrapArgs(input: BwrapInput): BwrapCommand {
  const { policy, host } = input;
  const a: string[] = ["--unshare-all"];
  const fds: Buffer[] = [];
  const fd = (data: Buffer) => String(3 + fds.push(data) - 1);
  const data = (content: string, dest: string) => {
    const file = input.dataFiles?.get(content);
    if (file !== undefined) a.push("--ro-bind", file, dest);
    else a.push("--ro-bind-data", fd(Buffer.from(content)), dest);
  };
  if (policy.network === true) a.push("--share-net");
  a.push("--die-with-parent", "--new-session", "--cap-drop", "ALL");
  if (input.seccomp) a.push("--seccomp", fd(input.seccomp));

  for (const p of host.paths) {
    if (p.link !== undefined) a.push("--symlink", p.link, p.path);
    else a.push("--ro-bind", p.path, p.path);
  }
  for (const f of host.files) a.push("--ro-bind", f, f);
  a.push("--dev", "/dev", "--proc", "/proc", "--tmpfs", SANDBOX_TMP, "--dir", SANDBOX_HOME);

  for (const r of [...policy.read, ...(input.runnerRead ?? [])]) a.push("--ro-bind-try", r, r);
  for (const w of policy.writable) a.push("--bind", w, w);
  // After `read` and `writable`: a `read = ["/etc"]` must not show /etc's secrets again.
  for (const s of host.secrets) mask(a, s.path, s.dir);
  for (const s of host.sanitized) data(s.content, s.path);

  // Only what is shown needs protecting (a mount elsewhere would show it). Where nothing is
  // writable (a read-only `read` path: pod's own git will see the scope so), nothing can be
  // renamed or created, and a pin (a read-write bind) would make it writable: only masks,
  // read-only and sanitized paths apply there.
  const within = (roots: readonly string[], p: string) => roots.some((r) => p === r || p.startsWith(r.endsWith("/") ? r : r + "/"));
  for (const op of protectOps(policy)) {
    if (!within([...policy.writable, ...policy.read], op.path)) continue;
    if ((op.kind === "pinned" || op.kind === "absent") && !within(policy.writable, op.path)) continue;
    if (op.kind === "pinned") a.push("--bind", op.path, op.path);
    else if (op.kind === "readOnly") a.push("--ro-bind", op.path, op.path);
    else if (op.kind === "sanitized") data(op.content!, op.path);
    else if (op.kind === "masked") mask(a, op.path, op.dir!);
    else a.push("--tmpfs", op.path, "--remount-ro", op.path);
  }

  if (input.proxySocket) a.push("--ro-bind", input.proxySocket, SANDBOX_PROXY_SOCKET);
  a.push("--chdir", input.cwd, "--", ...input.argv);
  return { args: a, fds };
}

/** A directory becomes an empty read-only tmpfs; a file (or socket) reads as /dev/null. */
function mask(a: string[], p: string, dir: boolean): void {
  if (dir) a.push("--tmpfs", p, "--remount-ro", p);
  else a.push("--ro-bind", "/dev/null", p);
}

type ProtectOp = { kind: "pinned" | "readOnly" | "sanitized" | "masked" | "absent"; path: string; dir?: boolean; content?: string };
const ORDER: Record<ProtectOp["kind"], number> = { pinned: 0, readOnly: 1, sanitized: 2, masked: 3, absent: 4 };

/** The view as one list, shallowest path first (an enclosing mount before what it holds), then in ORDER. */
export function protectOps(policy: SandboxPolicy): ProtectOp[] {
  const v = policy.protect;
  const ops: ProtectOp[] = [
    ...v.pinned.map((p) => ({ kind: "pinned" as const, path: p })),
    ...v.readOnly.map((p) => ({ kind: "readOnly" as const, path: p })),
    ...v.sanitized.map((s) => ({ kind: "sanitized" as const, path: s.path, content: s.content })),
    ...v.masked.map((m) => ({ kind: "masked" as const, path: m.path, dir: m.dir })),
    ...v.absent.map((p) => ({ kind: "absent" as const, path: p })),
  ];
  const depth = (p: string) => p.split("/").length;
  return ops.sort((x, y) => depth(x.path) - depth(y.path) || ORDER[x.kind] - ORDER[y.kind] || (x.path < y.path ? -1 : x.path > y.path ? 1 : 0));
}
