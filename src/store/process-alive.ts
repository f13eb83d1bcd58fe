import { execFileSync } from "node:child_process";
import { readFileSync, readlinkSync } from "node:fs";
import { hostname } from "node:os";

/** Whether a process with this pid exists (EPERM means it exists but is not ours). */
export function processAlive(pid: number): boolean {
  if (!Number.isInteger(pid) || pid <= 0) return false;
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === "EPERM";
  }
}

/**
 * Who holds a lock: pid, the process's start time and the host. A pid alone is not
 * an identity (pids are reused, and a lock can outlive a reboot); pid + start time
 * on the same host (and, on Linux, the same boot) is.
 */
export interface ProcessIdentity {
  pid: number;
  /** Start time of the process: on Linux `/proc/<pid>/stat` field 22 (clock ticks since boot); elsewhere epoch seconds from `ps -o lstart=`; undefined when unknown. */
  start: string | undefined;
  /** The host name, and on Linux the pid namespace (`host#4026531836`): pids are only comparable inside one namespace. */
  host: string;
  /** Linux boot id: the start time counts from boot, so it only identifies a process within one boot. */
  boot: string | undefined;
}

/** What can be said about a recorded owner from this host. */
export type OwnerState = "alive" | "dead" | "other-host";

const UNKNOWN = "-";

/** One line: `pid start host boot` ("-" for an unknown field). Host names have no spaces. */
export function formatIdentity(id: ProcessIdentity): string {
  return `${id.pid} ${id.start ?? UNKNOWN} ${id.host} ${id.boot ?? UNKNOWN}\n`;
}

/** Parses `formatIdentity`'s line; a bare pid (older pod) is an identity on this host with no start time. */
export function parseIdentity(text: string): ProcessIdentity | undefined {
  const [pidText, start, host, boot] = text.trim().split(/\s+/);
  const pid = Number(pidText);
  if (!Number.isInteger(pid) || pid <= 0) return undefined;
  const field = (s: string | undefined) => (s === undefined || s === UNKNOWN || s === "" ? undefined : s);
  return { pid, start: field(start), host: field(host) ?? thisHost(), boot: field(boot) };
}

export function identityOf(pid: number): ProcessIdentity {
  return { pid, start: processStartTime(pid), host: thisHost(), boot: bootId() };
}

/**
 * Where a pid means something: the host, plus the pid namespace on Linux (two
 * containers sharing a runtime dir may share a host name but not their pids).
 */
function thisHost(): string {
  const name = hostname().replace(/[\s#]/g, "_") || "localhost";
  if (process.platform !== "linux") return name;
  try {
    const ns = /\[(\d+)\]/.exec(readlinkSync("/proc/self/ns/pid"))?.[1];
    return ns ? `${name}#${ns}` : name;
  } catch {
    return name;
  }
}

/**
 * Whether the process an identity names is still that process. A pid that is gone,
 * a zombie, or now belongs to a process started at another time (pid reuse, or a
 * reboot) is dead. Where the start time cannot be read (no /proc and no ps) only the
 * pid's liveness is checked. A process on another host cannot be checked at all.
 */
export function ownerState(owner: ProcessIdentity): OwnerState {
  if (owner.host !== thisHost()) return "other-host";
  const boot = bootId();
  if (owner.boot !== undefined && boot !== undefined && owner.boot !== boot) return "dead";
  if (!processAlive(owner.pid)) return "dead";
  if (process.platform === "linux") {
    const stat = linuxStat(owner.pid);
    if (!stat) return "dead";
    if (stat.state === "Z" || stat.state === "X") return "dead";
    if (owner.start !== undefined && stat.start !== owner.start) return "dead";
    return "alive";
  }
  if (owner.start !== undefined) {
    const now = processStartTime(owner.pid);
    if (now !== undefined && now !== owner.start) return "dead";
  }
  return "alive";
}

function processStartTime(pid: number): string | undefined {
  if (process.platform === "linux") return linuxStat(pid)?.start;
  if (process.platform === "win32") return undefined;
  // macOS and the BSDs: ps prints the start time to the second.
  try {
    const out = execFileSync("ps", ["-o", "lstart=", "-p", String(pid)], { encoding: "utf8", stdio: ["ignore", "pipe", "ignore"], timeout: 2000 });
    const ms = Date.parse(out.trim());
    return Number.isFinite(ms) ? String(Math.round(ms / 1000)) : undefined;
  } catch {
    return undefined;
  }
}

/** State (field 3) and start time (field 22) from /proc/<pid>/stat. */
function linuxStat(pid: number): { state: string; start: string } | undefined {
  try {
    const text = readFileSync(`/proc/${pid}/stat`, "utf8");
    // Field 2 (comm) is in parentheses and may itself contain spaces and ")": split after the last ")".
    const fields = text.slice(text.lastIndexOf(")") + 2).split(" ");
    const state = fields[0];
    const start = fields[22 - 3];
    return state && start ? { state, start } : undefined;
  } catch {
    return undefined;
  }
}

/** Read each time (a tiny /proc read): the boot id only changes across a reboot. */
function bootId(): string | undefined {
  if (process.platform !== "linux") return undefined;
  try {
    return readFileSync("/proc/sys/kernel/random/boot_id", "utf8").trim() || undefined;
  } catch {
    return undefined;
  }
}
