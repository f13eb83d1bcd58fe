import { execFile } from "node:child_process";
import { PodError } from "../errors.js";
import { hostEnv, podEnv } from "../env-config.js";

/** The sandbox a Bash call runs in, as `run_start.sandbox` names it. */
export type SandboxKind = "bwrap" | "seatbelt" | "off";
/**
 * A failure carries Bash's error, and its parts for other confined processes (hooks,
 * MCP servers: src/sandbox/confine.ts words their own): why no sandbox can start
 * ("bubblewrap (bwrap) is not installed") and how to install one, when there is a way.
 */
export type Detected = { ok: true; kind: SandboxKind } | { ok: false; error: PodError; reason: string; install?: string };

const INSTALL_LINUX =
  "install bubblewrap (`apt-get install bubblewrap`, `dnf install bubblewrap`), or enable unprivileged user namespaces (`sysctl kernel.unprivileged_userns_clone=1`; on Ubuntu 24.04+ `sysctl kernel.apparmor_restrict_unprivileged_userns=0`)";
const FIX_LINUX = `${INSTALL_LINUX}, or set [tools.bash] sandbox = "off" to run commands unconfined at your own risk`;

/** Probes already run, by binary (one in practice; tests point POD_BWRAP elsewhere). */
const probes = new Map<string, Promise<Detected>>();

/**
 * Which sandbox can start here, found by running it once (`bwrap … true`): a
 * bwrap binary that cannot create namespaces (no user namespaces, a seccomp'd
 * container) fails the probe, not the first real call. Probed once per process.
 */
export function detectSandbox(mode: "required" | "off"): Promise<Detected> {
  if (mode === "off") return Promise.resolve({ ok: true, kind: "off" });
  const key = process.platform === "linux" ? bwrapBinary() : process.platform;
  let probe = probes.get(key);
  if (!probe) {
    probe = process.platform === "darwin" ? probeSeatbelt() : process.platform === "linux" ? probeBwrap() : Promise.resolve(unsupported());
    probes.set(key, probe);
  }
  return probe;
}

/** The bubblewrap binary; POD_BWRAP overrides it (tests use it to simulate a machine without one). */
export const bwrapBinary = () => podEnv().bwrap;

function run(file: string, args: string[]): Promise<string | undefined> {
  return new Promise((resolve) => {
    execFile(file, args, { timeout: 10_000, env: { PATH: hostEnv().PATH ?? "/usr/bin:/bin" } }, (err, _out, stderr) => {
      if (!err) return resolve(undefined);
      const code = (err as NodeJS.ErrnoException).code;
      resolve(code === "ENOENT" ? "ENOENT" : (stderr.trim().split("\n")[0] ?? err.message) || err.message);
    });
  });
}

async function probeBwrap(): Promise<Detected> {
  const why = await run(bwrapBinary(), ["--unshare-all", "--die-with-parent", "--new-session", "--cap-drop", "ALL", "--ro-bind", "/", "/", "--dev", "/dev", "--proc", "/proc", "--tmpfs", "/tmp", "--", "true"]);
  if (why === undefined) return { ok: true, kind: "bwrap" };
  const reason = why === "ENOENT" ? "bubblewrap (bwrap) is not installed" : `bubblewrap cannot start here (${why})`;
  return { ok: false, error: new PodError("sandbox_unavailable", `Bash needs an OS sandbox and ${reason}`, FIX_LINUX), reason, install: INSTALL_LINUX };
}

async function probeSeatbelt(): Promise<Detected> {
  const why = await run("/usr/bin/sandbox-exec", ["-p", "(version 1)(allow default)", "/usr/bin/true"]);
  if (why === undefined) return { ok: true, kind: "seatbelt" };
  const reason = `sandbox-exec cannot start here (${why})`;
  return {
    ok: false,
    error: new PodError("sandbox_unavailable", `Bash needs an OS sandbox and ${reason}`, 'set [tools.bash] sandbox = "off" to run commands unconfined at your own risk'),
    reason,
  };
}

function unsupported(): Detected {
  const reason = `pod has none for ${process.platform}`;
  return {
    ok: false,
    error: new PodError("sandbox_unavailable", `Bash needs an OS sandbox and ${reason}`, 'set [tools.bash] sandbox = "off" to run commands unconfined at your own risk'),
    reason,
  };
}

/**
 * What `run_start.sandbox` says: null when Bash is off (or the pod has no scope),
 * "off" when the manifest turns the sandbox off, else the sandbox that started —
 * or null with the error when none can, so the run can say so once.
 */
export async function sandboxForRun(tools: { disabled: readonly string[]; bash: { enabled: boolean; sandbox: "required" | "off" } } | undefined): Promise<{ kind: SandboxKind | null; error?: PodError }> {
  if (!tools || !tools.bash.enabled || tools.disabled.includes("Bash")) return { kind: null };
  const d = await detectSandbox(tools.bash.sandbox);
  return d.ok ? { kind: d.kind } : { kind: null, error: d.error };
}
