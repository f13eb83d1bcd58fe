import { lstatSync, readdirSync, readFileSync, readlinkSync, realpathSync, statSync } from "node:fs";
import path from "node:path";
import { redactGitConfig } from "../policy/git-credentials.js";
import type { Entry } from "../policy/scan.js";

/**
 * The system allowlist: what of the host a confined process sees besides its scope
 * (SPEC "The sandbox shows only what the task needs"). The toolchain's directories,
 * read-only: `/usr` (where /usr/local's node, python and compilers are too), the
 * usr-merge links or directories `/bin`, `/sbin`, `/lib*`, `/etc` without its
 * secrets, `/sys`, and Nix's store where there is one. Not the user's home, `/root`,
 * `/home`, `/opt` (the runner's tool cache), `/var` (its temp, docker's state),
 * `/run` and `/var/run` (sockets), other workspaces: a toolchain there is shown with
 * `[tools.bash] read`.
 *
 * These are facts about the host, read once per process (a few dozen system calls)
 * and handed to the renderers as data, so the renderers stay pure.
 */
export interface HostSystem {
  /** System paths shown read-only, in mount order: a directory is bound, a symlink (usr-merge's /bin → usr/bin) made again. */
  paths: Array<{ path: string; link?: string }>;
  /** Secrets inside those paths that exist on this host: shown empty. */
  secrets: Entry[];
  /** Files inside those paths shown as a sanitized copy (/etc/gitconfig when it holds a credential). */
  sanitized: Array<{ path: string; content: string }>;
  /** Files outside the system paths that a system file points at and tools need (/etc/resolv.conf → /run/systemd/resolve/…). */
  files: string[];
}

const LINUX_PATHS = ["/usr", "/bin", "/sbin", "/lib", "/lib32", "/lib64", "/libx32", "/etc", "/sys", "/nix/store"];

/** Under /etc: passwords, keys and tokens no build needs. Directories are masked whole. */
const ETC_SECRETS = [
  "shadow",
  "shadow-",
  "gshadow",
  "gshadow-",
  "sudoers",
  "sudoers.d",
  "security/opasswd",
  "ssl/private",
  "pki/tls/private",
  "krb5.keytab",
  "ipsec.secrets",
  "ppp/chap-secrets",
  "ppp/pap-secrets",
  "wireguard",
  "NetworkManager/system-connections",
  "letsencrypt",
  "docker/key.json",
  "docker/certs.d",
  "containerd/certs.d",
  "rancher",
  "kubernetes",
];

/** macOS (Seatbelt matches paths, no mounts): the system's read-only directories and Homebrew's. */
const DARWIN_PATHS = ["/usr", "/bin", "/sbin", "/System", "/Library", "/Applications", "/private/etc", "/etc", "/private/var/db/dyld", "/opt/homebrew", "/dev"];
const DARWIN_SECRETS = ["/private/etc/master.passwd", "/private/etc/sudoers", "/private/etc/sudoers.d", "/Library/Keychains", "/private/var/db/sudo"];

let cached: HostSystem | undefined;

/** This host's system view (computed on first use, then kept: it describes the machine, not the run). */
export function hostSystem(): HostSystem {
  cached ??= process.platform === "darwin" ? darwinSystem() : linuxSystem();
  return cached;
}

function kind(p: string): "dir" | "file" | "link" | undefined {
  try {
    const st = lstatSync(p);
    return st.isSymbolicLink() ? "link" : st.isDirectory() ? "dir" : "file";
  } catch {
    return undefined;
  }
}

export function linuxSystem(root = "/"): HostSystem {
  const at = (p: string) => path.join(root, p);
  const paths: HostSystem["paths"] = [];
  for (const p of LINUX_PATHS) {
    const k = kind(at(p));
    if (k === "dir") paths.push({ path: p });
    else if (k === "link") paths.push({ path: p, link: readlinkSync(at(p)) });
  }
  const secrets: Entry[] = [];
  for (const s of ETC_SECRETS) {
    const k = kind(at(`/etc/${s}`));
    if (k === "dir" || k === "file") secrets.push({ path: `/etc/${s}`, dir: k === "dir" });
  }
  // Host keys: the private halves (the .pub files are public).
  try {
    for (const name of readdirSync(at("/etc/ssh"))) if (/^ssh_host_.*_key$/.test(name)) secrets.push({ path: `/etc/ssh/${name}`, dir: false });
  } catch {
    // no sshd here
  }
  const sanitized: HostSystem["sanitized"] = [];
  try {
    const gitconfig = readFileSync(at("/etc/gitconfig"), "utf8");
    const r = redactGitConfig(gitconfig);
    if (r.keys.length > 0) sanitized.push({ path: "/etc/gitconfig", content: r.text });
  } catch {
    // none
  }
  const files: string[] = [];
  // systemd-resolved's /etc/resolv.conf points into /run, which is not shown: its one file is (for network = true).
  try {
    const target = realpathSync(at("/etc/resolv.conf"));
    const shown = LINUX_PATHS.some((p) => target === at(p) || target.startsWith(at(p) + "/"));
    if (!shown && statSync(target).isFile()) files.push(root === "/" ? target : `/${path.relative(root, target)}`);
  } catch {
    // none
  }
  return { paths, secrets, sanitized, files };
}

function darwinSystem(): HostSystem {
  const paths: HostSystem["paths"] = DARWIN_PATHS.filter((p) => kind(p) !== undefined).map((p) => ({ path: p }));
  const secrets: Entry[] = DARWIN_SECRETS.flatMap((p) => {
    const k = kind(p);
    return k === "dir" || k === "file" ? [{ path: p, dir: k === "dir" }] : [];
  });
  return { paths, secrets, sanitized: [], files: [] };
}

/** Whether a host path is inside what the sandbox shows (system, `read`, the writable dirs). */
export function shownBy(host: HostSystem, extra: readonly string[], p: string): boolean {
  const roots = [...host.paths.map((x) => x.path), ...host.files, ...extra];
  return roots.some((r) => p === r || p.startsWith(r.endsWith("/") ? r : r + "/"));
}
