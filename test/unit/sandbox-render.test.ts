// Golden tests of the sandbox's pure renderers (src/sandbox/): the bubblewrap argv,
// the Seatbelt profile (so the macOS rendering is pinned on Linux too) and the seccomp
// filter, for a set of policies on a fixed description of the host. A change to any
// of them shows here as a diff a reviewer reads mount by mount.
import { describe, expect, it } from "vitest";
import { bwrapArgs } from "../../src/sandbox/bwrap.js";
import { NOTHING_PROTECTED, type SandboxPolicy } from "../../src/sandbox/policy.js";
import { seatbeltProfile } from "../../src/sandbox/seatbelt.js";
import { unixSocketFilter } from "../../src/sandbox/seccomp.js";
import type { HostSystem } from "../../src/sandbox/system.js";

/** A usr-merged Debian/Ubuntu host with systemd-resolved. */
const HOST: HostSystem = {
  paths: [{ path: "/usr" }, { path: "/bin", link: "usr/bin" }, { path: "/lib", link: "usr/lib" }, { path: "/etc" }, { path: "/sys" }],
  secrets: [
    { path: "/etc/shadow", dir: false },
    { path: "/etc/ssl/private", dir: true },
  ],
  sanitized: [{ path: "/etc/gitconfig", content: "[credential]\n\thelper = [redacted]\n" }],
  files: ["/run/systemd/resolve/stub-resolv.conf"],
};

const SYSTEM = [
  "--ro-bind", "/usr", "/usr",
  "--symlink", "usr/bin", "/bin",
  "--symlink", "usr/lib", "/lib",
  "--ro-bind", "/etc", "/etc",
  "--ro-bind", "/sys", "/sys",
  "--ro-bind", "/run/systemd/resolve/stub-resolv.conf", "/run/systemd/resolve/stub-resolv.conf",
  "--dev", "/dev", "--proc", "/proc", "--tmpfs", "/tmp", "--dir", "/tmp/home",
];
const NAMESPACES = ["--unshare-all", "--die-with-parent", "--new-session", "--cap-drop", "ALL"];

const minimal: SandboxPolicy = { writable: ["/work/app"], read: [], protect: NOTHING_PROTECTED, network: false };

/** A pod as `pod run` builds it: manifest and hook script in ci/, a nested repo, a checkout's credentials, a missing hooks dir, a pre-existing hardlink. */
const full: SandboxPolicy = {
  writable: ["/work/app"],
  read: ["/home/runner/.nvm"],
  network: false,
  protect: {
    pinned: ["/work/app/vendor", "/work/app/vendor/lib"],
    readOnly: ["/work/app/.git", "/work/app/ci", "/work/app/vendor/lib/.git", "/work/app/src/hard.toml", "/home/runner/ci-outside.toml"],
    sanitized: [{ path: "/work/app/.git/config", content: "[http \"https://github.com/\"]\n\textraheader = [redacted]\n" }],
    masked: [
      { path: "/work/app/.pod", dir: true },
      { path: "/work/app/.env", dir: false },
      { path: "/work/app/notes.txt", dir: false },
    ],
    absent: ["/work/app/hooks"],
  },
};

describe("bwrap argv (golden)", () => {
  it("minimal: the system allowlist, a private /tmp and HOME, the scope writable, no network", () => {
    const r = bwrapArgs({ policy: minimal, argv: ["bash", "-c", "npm test"], cwd: "/work/app", host: HOST });
    // prettier-ignore
    expect(r.args).toEqual([
      ...NAMESPACES,
      ...SYSTEM,
      "--bind", "/work/app", "/work/app",
      "--ro-bind", "/dev/null", "/etc/shadow",
      "--tmpfs", "/etc/ssl/private", "--remount-ro", "/etc/ssl/private",
      "--ro-bind-data", "3", "/etc/gitconfig",
      "--chdir", "/work/app", "--", "bash", "-c", "npm test",
    ]);
    expect(r.fds.map(String)).toEqual(["[credential]\n\thelper = [redacted]\n"]);
    // A sanitized content already in a file (spawn.ts writes each once per process) is bound, not passed by descriptor.
    const withFile = bwrapArgs({ policy: minimal, argv: ["true"], cwd: "/work/app", host: HOST, dataFiles: new Map([["[credential]\n\thelper = [redacted]\n", "/tmp/pod-sanitized-1/ab"]]) });
    expect(withFile.args.join(" ")).toContain("--ro-bind /tmp/pod-sanitized-1/ab /etc/gitconfig --chdir");
    expect(withFile.fds).toEqual([]);
  });

  it("full: read paths, then the protection policy's view shallowest first; what is not shown is not mounted", () => {
    const r = bwrapArgs({ policy: full, argv: ["bash", "-c", "git status"], cwd: "/work/app", host: { ...HOST, sanitized: [] } });
    // prettier-ignore
    expect(r.args).toEqual([
      ...NAMESPACES,
      ...SYSTEM,
      "--ro-bind-try", "/home/runner/.nvm", "/home/runner/.nvm",
      "--bind", "/work/app", "/work/app",
      "--ro-bind", "/dev/null", "/etc/shadow",
      "--tmpfs", "/etc/ssl/private", "--remount-ro", "/etc/ssl/private",
      // depth 3: pinned, read-only, masked, placeholders
      "--bind", "/work/app/vendor", "/work/app/vendor",
      "--ro-bind", "/work/app/.git", "/work/app/.git",
      "--ro-bind", "/work/app/ci", "/work/app/ci",
      "--ro-bind", "/dev/null", "/work/app/.env",
      "--tmpfs", "/work/app/.pod", "--remount-ro", "/work/app/.pod",
      "--ro-bind", "/dev/null", "/work/app/notes.txt",
      "--tmpfs", "/work/app/hooks", "--remount-ro", "/work/app/hooks",
      // depth 4
      "--bind", "/work/app/vendor/lib", "/work/app/vendor/lib",
      "--ro-bind", "/work/app/src/hard.toml", "/work/app/src/hard.toml",
      "--ro-bind-data", "3", "/work/app/.git/config",
      // depth 5
      "--ro-bind", "/work/app/vendor/lib/.git", "/work/app/vendor/lib/.git",
      "--chdir", "/work/app", "--", "bash", "-c", "git status",
    ]);
    expect(r.args).not.toContain("/home/runner/ci-outside.toml");
    expect(r.fds.map(String)).toEqual(['[http "https://github.com/"]\n\textraheader = [redacted]\n']);
  });

  it("a read-only scope (as pod's own git will see it): masks and read-only paths apply, no pin or placeholder makes anything writable", () => {
    const r = bwrapArgs({ policy: { ...full, writable: [], read: ["/work/app"] }, argv: ["git", "status"], cwd: "/work/app", host: { ...HOST, sanitized: [] } });
    const after = r.args.slice(r.args.indexOf("/etc/ssl/private") + 3);
    // prettier-ignore
    expect(after).toEqual([
      "--ro-bind", "/work/app/.git", "/work/app/.git",
      "--ro-bind", "/work/app/ci", "/work/app/ci",
      "--ro-bind", "/dev/null", "/work/app/.env",
      "--tmpfs", "/work/app/.pod", "--remount-ro", "/work/app/.pod",
      "--ro-bind", "/dev/null", "/work/app/notes.txt",
      "--ro-bind", "/work/app/src/hard.toml", "/work/app/src/hard.toml",
      "--ro-bind-data", "3", "/work/app/.git/config",
      "--ro-bind", "/work/app/vendor/lib/.git", "/work/app/vendor/lib/.git",
      "--chdir", "/work/app", "--", "git", "status",
    ]);
    expect(r.args).not.toContain("--bind");
  });

  it("network list: still unshared, pod's proxy socket bound in, the forwarder's node shown", () => {
    const r = bwrapArgs({ policy: { ...minimal, network: ["registry.npmjs.org"] }, argv: ["node", "-e", "F", "--", "npm", "ci"], cwd: "/work/app", host: { ...HOST, sanitized: [] }, proxySocket: "/tmp/pod-proxy-1/proxy.sock", runnerRead: ["/opt/node"] });
    // prettier-ignore
    expect(r.args).toEqual([
      ...NAMESPACES,
      ...SYSTEM,
      "--ro-bind-try", "/opt/node", "/opt/node",
      "--bind", "/work/app", "/work/app",
      "--ro-bind", "/dev/null", "/etc/shadow",
      "--tmpfs", "/etc/ssl/private", "--remount-ro", "/etc/ssl/private",
      "--ro-bind", "/tmp/pod-proxy-1/proxy.sock", "/tmp/.pod-proxy.sock",
      "--chdir", "/work/app", "--", "node", "-e", "F", "--", "npm", "ci",
    ]);
  });

  it("network = true: the host's network namespace, and the seccomp filter at fd 3 before any data", () => {
    const filter = unixSocketFilter("x64")!;
    const r = bwrapArgs({ policy: { ...minimal, network: true }, argv: ["curl", "https://example.com"], cwd: "/work/app", host: HOST, seccomp: filter });
    expect(r.args.slice(0, 8)).toEqual(["--unshare-all", "--share-net", "--die-with-parent", "--new-session", "--cap-drop", "ALL", "--seccomp", "3"]);
    expect(r.args).toContain("--ro-bind-data");
    expect(r.args[r.args.indexOf("--ro-bind-data") + 1]).toBe("4");
    expect(r.fds[0]).toBe(filter);
  });
});

describe("Seatbelt profile (golden)", () => {
  it("full: reads only from the allowlist, writes only to the scope, the view as denials, no network", () => {
    const host: HostSystem = { paths: [{ path: "/usr" }, { path: "/System" }, { path: "/private/etc" }], secrets: [{ path: "/private/etc/master.passwd", dir: false }], sanitized: [], files: [] };
    expect(seatbeltProfile(full, "/private/var/folders/x/T/pod-sbx-1", host).split("\n")).toEqual([
      "(version 1)",
      "(allow default)",
      "(deny file-read-data)",
      '(allow file-read-data (literal "/") (subpath "/usr") (subpath "/System") (subpath "/private/etc") (subpath "/work/app") (subpath "/private/var/folders/x/T/pod-sbx-1") (subpath "/home/runner/.nvm"))',
      '(deny file-read* (literal "/private/etc/master.passwd"))',
      "(deny file-write*)",
      '(allow file-write* (subpath "/work/app") (subpath "/private/var/folders/x/T/pod-sbx-1") (literal "/dev/null") (literal "/dev/tty") (literal "/dev/zero"))',
      '(deny file-write* (literal "/work/app/vendor"))',
      '(deny file-write* (subpath "/home/runner/ci-outside.toml"))',
      '(deny file-write* (subpath "/work/app/.git"))',
      '(deny file-write* (subpath "/work/app/ci"))',
      '(deny file-read* file-write* (literal "/work/app/.env"))',
      '(deny file-read* file-write* (subpath "/work/app/.pod"))',
      '(deny file-read* file-write* (literal "/work/app/notes.txt"))',
      '(deny file-write* (subpath "/work/app/hooks"))',
      '(deny file-write* (literal "/work/app/vendor/lib"))',
      '(deny file-write* (subpath "/work/app/src/hard.toml"))',
      '(deny file-read* file-write* (literal "/work/app/.git/config"))',
      '(deny file-write* (subpath "/work/app/vendor/lib/.git"))',
      "(deny network*)",
    ]);
  });

  it("network = true: the network, without unix sockets; quotes and backslashes in paths are escaped", () => {
    const p = seatbeltProfile({ ...minimal, writable: ['/work/a "b"\\c'], network: true }, "/tmp/x", { paths: [], secrets: [], sanitized: [], files: [] });
    expect(p).toContain('(subpath "/work/a \\"b\\"\\\\c")');
    expect(p.split("\n").at(-1)).toBe("(deny network-outbound (remote unix-socket))");
  });
});

/** Runs a classic-BPF seccomp program (the subset seccomp.ts emits) over one system call. */
function runFilter(prog: Buffer, call: { arch: number; nr: number; arg0?: number }): number {
  const data = Buffer.alloc(64);
  data.writeInt32LE(call.nr, 0);
  data.writeUInt32LE(call.arch, 4);
  data.writeUInt32LE(call.arg0 ?? 0, 16);
  let a = 0;
  for (let pc = 0; pc < prog.length / 8; ) {
    const code = prog.readUInt16LE(pc * 8);
    const jt = prog.readUInt8(pc * 8 + 2);
    const jf = prog.readUInt8(pc * 8 + 3);
    const k = prog.readUInt32LE(pc * 8 + 4);
    pc++;
    if (code === 0x20) a = data.readUInt32LE(k);
    else if (code === 0x54) a = (a & k) >>> 0;
    else if (code === 0x15) pc += a === k ? jt : jf;
    else if (code === 0x06) return k;
    else throw new Error(`unexpected BPF opcode ${code}`);
  }
  throw new Error("the program fell off its end");
}

describe("the seccomp filter (run on a BPF interpreter)", () => {
  const ALLOW = 0x7fff0000;
  const EPERM = 0x00050001;
  const ENOSYS = 0x00050026;
  const KILL = 0x80000000;

  it("x86-64: socket(AF_UNIX) and x32's are refused, other sockets and calls allowed, io_uring ENOSYS, i386 checked, unknown ABIs killed", () => {
    const f = unixSocketFilter("x64")!;
    const X86_64 = 0xc000003e;
    const I386 = 0x40000003;
    expect(runFilter(f, { arch: X86_64, nr: 41, arg0: 1 })).toBe(EPERM);
    expect(runFilter(f, { arch: X86_64, nr: 41, arg0: 2 })).toBe(ALLOW); // AF_INET
    expect(runFilter(f, { arch: X86_64, nr: 0x40000000 + 41, arg0: 1 })).toBe(EPERM); // x32
    expect(runFilter(f, { arch: X86_64, nr: 53, arg0: 1 })).toBe(ALLOW); // socketpair(AF_UNIX)
    expect(runFilter(f, { arch: X86_64, nr: 42 })).toBe(ALLOW); // connect
    expect(runFilter(f, { arch: X86_64, nr: 425 })).toBe(ENOSYS);
    expect(runFilter(f, { arch: X86_64, nr: 427 })).toBe(ENOSYS);
    expect(runFilter(f, { arch: I386, nr: 359, arg0: 1 })).toBe(EPERM);
    expect(runFilter(f, { arch: I386, nr: 359, arg0: 2 })).toBe(ALLOW);
    expect(runFilter(f, { arch: I386, nr: 102, arg0: 1 })).toBe(EPERM); // socketcall(SYS_SOCKET, …)
    expect(runFilter(f, { arch: I386, nr: 102, arg0: 3 })).toBe(ALLOW); // socketcall(SYS_CONNECT, …)
    expect(runFilter(f, { arch: I386, nr: 426 })).toBe(ENOSYS);
    expect(runFilter(f, { arch: 0xc00000b7, nr: 198, arg0: 1 })).toBe(KILL);
  });

  it("arm64: socket(AF_UNIX) refused natively and for 32-bit ARM", () => {
    const f = unixSocketFilter("arm64")!;
    expect(runFilter(f, { arch: 0xc00000b7, nr: 198, arg0: 1 })).toBe(EPERM);
    expect(runFilter(f, { arch: 0xc00000b7, nr: 198, arg0: 10 })).toBe(ALLOW); // AF_INET6
    expect(runFilter(f, { arch: 0xc00000b7, nr: 199, arg0: 1 })).toBe(ALLOW); // socketpair
    expect(runFilter(f, { arch: 0x40000028, nr: 281, arg0: 1 })).toBe(EPERM);
    expect(runFilter(f, { arch: 0xc000003e, nr: 41, arg0: 1 })).toBe(KILL);
  });

  it("has no filter for an architecture it does not know", () => {
    expect(unixSocketFilter("riscv64")).toBeUndefined();
  });
});
