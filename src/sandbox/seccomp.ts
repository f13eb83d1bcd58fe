/**
 * The seccomp filter loaded into a sandbox that shares the host's network namespace
 * (`network = true`). There, the host's abstract unix sockets (`@/containerd-shim/…`,
 * X11's, D-Bus's) are reachable: they have no file a mount could hide, they live in
 * the network namespace. A BPF filter cannot read connect()'s address (it is behind a
 * pointer), so it cannot tell an abstract address from a path; it can read socket()'s
 * domain. So the filter makes `socket(AF_UNIX, …)` fail with EPERM. `socketpair()` —
 * how node, python and make talk to their own children — is a different system call
 * and keeps working; io_uring (which can create sockets without socket()) answers
 * ENOSYS, and libuv falls back to its thread pool. What breaks with `network = true`:
 * a program that listens on or connects to a unix socket itself (a test server on
 * `/tmp/x.sock`), and a 32-bit x86 program that makes sockets through socketcall()
 * (every one of them is refused there, since its domain is behind a pointer).
 * docs/security.md has the trade-off.
 *
 * Classic BPF, as bwrap's `--seccomp FD` takes it: an array of `struct sock_filter`
 * ({u16 code, u8 jt, u8 jf, u32 k}) in the host's byte order, run over `struct
 * seccomp_data` ({int nr; u32 arch; u64 ip; u64 args[6]}).
 */

const LD_W_ABS = 0x20;
const JEQ_K = 0x15;
const AND_K = 0x54;
const RET_K = 0x06;

const RET_ALLOW = 0x7fff0000;
const RET_KILL_PROCESS = 0x80000000;
const RET_ERRNO = 0x00050000;
const EPERM = 1;
const ENOSYS = 38;

const OFF_NR = 0;
const OFF_ARCH = 4;
const OFF_ARG0 = 16; // low 32 bits of args[0] on a little-endian machine

const AF_UNIX = 1;
const SYS_SOCKET = 1; // socketcall()'s call number for socket()

interface Arch {
  audit: number;
  /** socket(2)'s number. */
  socket: number;
  /** socketcall(2)'s number, where the ABI has one (i386). */
  socketcall?: number;
  /** Bits to clear from the number first (x32's 0x40000000 on x86-64). */
  mask?: number;
}

/** io_uring_setup, io_uring_enter, io_uring_register: the same numbers on every ABI below. */
const IO_URING = [425, 426, 427];

/** The ABIs a process can use on each host architecture node runs on (the native one and its 32-bit compat). */
const ARCHES: Record<string, Arch[]> = {
  x64: [
    { audit: 0xc000003e, socket: 41, mask: 0xbfffffff },
    { audit: 0x40000003, socket: 359, socketcall: 102 },
  ],
  arm64: [
    { audit: 0xc00000b7, socket: 198 },
    { audit: 0x40000028, socket: 281 },
  ],
};

/** One instruction; jumps name labels (BPF jumps only forward, so every target comes later). */
type Op = { label: string } | { code: number; k: number; jt?: string; jf?: string };

/** Resolves labels into jump offsets and encodes the program. */
function assemble(ops: Op[]): Buffer {
  const at = new Map<string, number>();
  const insns: Array<Exclude<Op, { label: string }>> = [];
  for (const op of ops) {
    if ("label" in op) at.set(op.label, insns.length);
    else insns.push(op);
  }
  const out = Buffer.alloc(insns.length * 8);
  insns.forEach((op, i) => {
    const off = (label: string | undefined) => {
      if (label === undefined) return 0;
      const target = at.get(label);
      const d = target === undefined ? -1 : target - (i + 1);
      if (d < 0 || d > 255) throw new Error(`seccomp filter: bad jump to ${label}`);
      return d;
    };
    out.writeUInt16LE(op.code, i * 8);
    out.writeUInt8(off(op.jt), i * 8 + 2);
    out.writeUInt8(off(op.jf), i * 8 + 3);
    out.writeUInt32LE(op.k >>> 0, i * 8 + 4);
  });
  return out;
}

/** The filter for this machine, or undefined where pod has none (then `network = true` cannot be sandboxed). */
export function unixSocketFilter(arch: string = process.arch): Buffer | undefined {
  const abis = ARCHES[arch];
  if (!abis) return undefined;
  const ops: Op[] = [{ code: LD_W_ABS, k: OFF_ARCH }];
  // Which ABI the call comes from; one not listed is killed (it could not be checked).
  abis.forEach((a, i) => ops.push({ code: JEQ_K, k: a.audit, jt: `abi${i}`, jf: i === abis.length - 1 ? "kill" : undefined }));
  ops.push({ label: "kill" }, { code: RET_K, k: RET_KILL_PROCESS });
  abis.forEach((a, i) => {
    ops.push({ label: `abi${i}` }, { code: LD_W_ABS, k: OFF_NR });
    if (a.mask !== undefined) ops.push({ code: AND_K, k: a.mask });
    ops.push({ code: JEQ_K, k: a.socket, jt: `socket${i}` });
    if (a.socketcall !== undefined) ops.push({ code: JEQ_K, k: a.socketcall, jt: `socketcall${i}` });
    for (const n of IO_URING) ops.push({ code: JEQ_K, k: n, jt: "nosys" });
    ops.push({ code: RET_K, k: RET_ALLOW });
    // socket(domain, …): the domain; socketcall(call, args): the call (its arguments are behind a pointer).
    ops.push({ label: `socket${i}` }, { code: LD_W_ABS, k: OFF_ARG0 }, { code: JEQ_K, k: AF_UNIX, jt: "eperm", jf: "allow" });
    if (a.socketcall !== undefined) ops.push({ label: `socketcall${i}` }, { code: LD_W_ABS, k: OFF_ARG0 }, { code: JEQ_K, k: SYS_SOCKET, jt: "eperm", jf: "allow" });
  });
  ops.push({ label: "eperm" }, { code: RET_K, k: RET_ERRNO | EPERM });
  ops.push({ label: "nosys" }, { code: RET_K, k: RET_ERRNO | ENOSYS });
  ops.push({ label: "allow" }, { code: RET_K, k: RET_ALLOW });
  return assemble(ops);
}
