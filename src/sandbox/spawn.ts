import { spawn, type StdioOptions } from "node:child_process";
import { createHash } from "node:crypto";
import { existsSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from "node:fs";
import { mkdtemp, realpath, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import path from "node:path";
import type { Readable, Writable } from "node:stream";
import { PodError } from "../errors.js";
import { bwrapArgs } from "./bwrap.js";
import { bwrapBinary, type SandboxKind } from "./detect.js";
import { CappedOutput } from "./output.js";
import { holdPlaceholders } from "./placeholders.js";
import { SANDBOX_HOME, SANDBOX_TMP, type SandboxPolicy } from "./policy.js";
import { FORWARDER, proxyEnv, SANDBOX_PROXY_PORT, SANDBOX_PROXY_SOCKET, startProxy } from "./proxy.js";
import { seatbeltProfile } from "./seatbelt.js";
import { unixSocketFilter } from "./seccomp.js";
import { hostSystem, shownBy } from "./system.js";

/** SIGTERM first, then SIGKILL after this long. */
export const KILL_GRACE_MS = 2000;
/** After the process exits, how long its pipes may still deliver what it wrote before pod stops reading. */
const DRAIN_MS = 250;

export interface ConfineOptions {
  /** Which sandbox (detect.ts); "off" runs the process unconfined (the manifest's documented risk). */
  kind: SandboxKind;
  policy: SandboxPolicy;
  /** [file, ...args], e.g. ["bash", "-c", command] or ["node", "server.mjs"]. */
  argv: string[];
  /** The working directory, inside what the policy shows. */
  cwd: string;
  /** The whole environment (commandEnv() builds the usual one). HOME and TMPDIR are replaced by private ones. */
  env: Record<string, string>;
  /** "pipe" for a process that reads what pod writes (a hook's JSON, an MCP server's stdio); default "ignore". */
  stdin?: "ignore" | "pipe";
  /** The process tree is ended this long after the start. Absent: no limit (a long-lived MCP server). */
  timeoutMs?: number | undefined;
  /** Aborting ends the process tree (cancel, pod's own --timeout). */
  signal?: AbortSignal | undefined;
  /** How long kill() waits between SIGTERM and SIGKILL (default KILL_GRACE_MS): an MCP server's shutdown has 1 s in all. */
  killGraceMs?: number | undefined;
}

export interface ConfinedExit {
  /** The exit code, or null when it ended by a signal or did not start. */
  code: number | null;
  signal: NodeJS.Signals | null;
  /** Why pod ended it, when it did: "timed out after 2s", "cancelled", or the reason given to kill(). */
  stopped?: string;
  /** Why it could not start. */
  error?: string;
}

/** A confined process and its whole tree. */
export interface ConfinedProcess {
  pid: number | undefined;
  /** null unless `stdin: "pipe"`. */
  stdin: Writable | null;
  stdout: Readable;
  stderr: Readable;
  /**
   * Settles when the process has exited — not when its pipes close: a child that
   * escaped the tree (possible only unconfined) may hold them open forever — after
   * the pipes had DRAIN_MS to deliver the rest, and after pod cleaned up what the
   * call needed (proxy, placeholders, scratch dir). Never rejects.
   */
  exited: Promise<ConfinedExit>;
  /** Ends the whole process tree (SIGTERM, SIGKILL after KILL_GRACE_MS). Idempotent. */
  kill(reason?: string): void;
}

/**
 * Starts one process in the sandbox — the one way pod starts anything on the model's
 * behalf: Bash's commands today; hooks, MCP stdio servers and pod's own git next
 * (issue 21), each with its own policy.
 *
 * Process tree: under bwrap the process is in its own PID namespace whose init is
 * bwrap's child; SIGKILL to bwrap's process group takes bwrap down, `--die-with-parent`
 * takes the namespace's init down, and the kernel kills every process left in the
 * namespace — setsid'd and double-forked ones too; none can leave it. pod dying takes
 * it down the same way. Unconfined ("off") and under Seatbelt there is only the
 * process group, which a setsid() escapes (the documented risk of those modes); pod's
 * exit still signals the group.
 *
 * Throws a PodError (`sandbox_unavailable`) when the policy cannot be enforced here
 * (network = true on an architecture without the seccomp filter).
 */
export async function spawnConfined(o: ConfineOptions): Promise<ConfinedProcess> {
  const cleanups: Array<() => Promise<void>> = [];
  const cleanup = async () => {
    for (const c of cleanups.splice(0).reverse()) await c().catch(() => {});
  };
  let file: string;
  let args: string[];
  let env: Record<string, string> = { ...o.env };
  let fds: Buffer[] = [];
  try {
    if (o.kind === "bwrap") {
      const seccomp = o.policy.network === true ? unixSocketFilter() : undefined;
      if (o.policy.network === true && !seccomp) {
        throw new PodError("sandbox_unavailable", `network = true needs pod's seccomp filter against unix sockets, which has no build for ${process.arch}`, 'use a host list (network = ["registry.npmjs.org", …]) or network = false');
      }
      let argv = o.argv;
      let proxySocket: string | undefined;
      const runnerRead: string[] = [];
      if (Array.isArray(o.policy.network)) {
        const proxy = await startProxy(o.policy.network);
        cleanups.push(() => proxy.close());
        proxySocket = proxy.socket;
        env = { ...env, ...proxyEnv() };
        // The forwarder is pod's own node: its install dir must be visible (it may live under /opt or ~/.nvm).
        argv = [process.execPath, "-e", FORWARDER, SANDBOX_PROXY_SOCKET, String(SANDBOX_PROXY_PORT), ...argv];
        const prefix = await nodePrefix();
        if (!shownBy(hostSystem(), o.policy.read, prefix)) runnerRead.push(prefix);
      }
      env.HOME = SANDBOX_HOME;
      env.TMPDIR = SANDBOX_TMP;
      const host = hostSystem();
      const dataFiles = sanitizedFiles([...host.sanitized, ...o.policy.protect.sanitized].map((s) => s.content));
      const r = bwrapArgs({ policy: o.policy, argv, cwd: o.cwd, host, proxySocket, runnerRead, seccomp, dataFiles });
      file = bwrapBinary();
      args = r.args;
      fds = r.fds;
      cleanups.push(holdPlaceholders(o.policy.protect.absent));
    } else {
      // No private /tmp to put HOME in: a scratch directory of its own, removed after.
      const scratch = await mkdtemp(path.join(tmpdir(), "pod-sbx-"));
      cleanups.push(() => rm(scratch, { recursive: true, force: true }));
      env.HOME = scratch;
      env.TMPDIR = scratch;
      if (o.kind === "seatbelt") {
        file = "/usr/bin/sandbox-exec";
        args = ["-p", seatbeltProfile(o.policy, scratch, hostSystem()), ...o.argv];
      } else {
        [file, ...args] = o.argv as [string, ...string[]];
      }
    }
  } catch (err) {
    await cleanup();
    throw err;
  }

  const stdio: StdioOptions = [o.stdin ?? "ignore", "pipe", "pipe", ...fds.map(() => "pipe" as const)];
  const child = spawn(file, args, { cwd: o.cwd, env, detached: true, stdio });
  fds.forEach((data, i) => {
    const s = child.stdio[3 + i] as Writable | null;
    s?.on("error", () => {});
    s?.end(data);
  });
  if (child.stdin) child.stdin.on("error", () => {});

  let stopped: string | undefined;
  let gone = false;
  const signalGroup = (sig: NodeJS.Signals) => {
    // Never after the group is reaped: its id could belong to someone else by then.
    if (gone || child.pid === undefined) return;
    try {
      process.kill(-child.pid, sig);
    } catch {
      // already gone
    }
  };
  const kill = (reason = "killed") => {
    if (stopped !== undefined) return;
    stopped = reason;
    signalGroup("SIGTERM");
    setTimeout(() => signalGroup("SIGKILL"), o.killGraceMs ?? KILL_GRACE_MS).unref();
  };
  const timer = o.timeoutMs === undefined ? undefined : setTimeout(() => kill(`timed out after ${Math.round(o.timeoutMs! / 1000)}s`), o.timeoutMs);
  const onAbort = () => kill("cancelled");
  o.signal?.addEventListener("abort", onAbort, { once: true });
  // pod exiting (a second ^C) ends the tree too; bwrap's --die-with-parent covers a kill -9.
  const onPodExit = () => signalGroup("SIGKILL");
  atPodExit.add(onPodExit);
  if (atPodExit.size === 1) process.once("exit", killAllAtExit);
  if (o.signal?.aborted) onAbort();

  const exited = new Promise<ConfinedExit>((resolve) => {
    let settled = false;
    const finish = async (e: ConfinedExit) => {
      if (settled) return;
      settled = true;
      if (timer) clearTimeout(timer);
      o.signal?.removeEventListener("abort", onAbort);
      atPodExit.delete(onPodExit);
      if (atPodExit.size === 0) process.off("exit", killAllAtExit);
      child.stdout!.destroy();
      child.stderr!.destroy();
      await cleanup();
      resolve(stopped !== undefined ? { ...e, stopped } : e);
    };
    child.on("error", (err) => void finish({ code: null, signal: null, error: `could not start ${file}: ${err.message}` }));
    let exit: { code: number | null; signal: NodeJS.Signals | null } | undefined;
    let drained = false;
    const maybeFinish = () => exit && drained && void finish(exit);
    child.on("exit", (code, sig) => {
      exit = { code, signal: sig };
      // Nothing the process left in its group outlives it (under bwrap the namespace is gone already).
      signalGroup("SIGKILL");
      gone = true;
      setTimeout(() => {
        drained = true;
        maybeFinish();
      }, DRAIN_MS);
    });
    child.on("close", () => {
      drained = true;
      setImmediate(maybeFinish);
    });
  });
  return { pid: child.pid, stdin: child.stdin, stdout: child.stdout!, stderr: child.stderr!, exited, kill };
}

/** The live process trees' killers, run once if pod exits while they run (one "exit" listener for all of them). */
const atPodExit = new Set<() => void>();
const killAllAtExit = () => {
  for (const k of atPodExit) k();
};

/** stdout and stderr interleaved, capped (output.ts), and how the process ended. */
export interface ConfinedRun extends ConfinedExit {
  output: string;
  truncated: boolean;
}

/** Runs a process to its end and collects its output (stdout and stderr interleaved, within `cap` characters). */
export async function runConfined(o: ConfineOptions & { cap: number }): Promise<ConfinedRun> {
  const p = await spawnConfined(o);
  const out = new CappedOutput(o.cap);
  p.stdout.on("data", (d: Buffer) => out.write(d));
  p.stderr.on("data", (d: Buffer) => out.write(d));
  const exit = await p.exited;
  const { text, truncated } = out.finish();
  return { ...exit, output: text, truncated };
}

/**
 * Sanitized contents (a git config without its credentials) written once per process
 * to files that bwrap binds read-only: one bind per call instead of a descriptor to
 * fill (bench/results.md, "Bash sandbox"). They hold nothing secret (that is the
 * point of them); the directory is private (mkdtemp, 0700), named with pod's pid,
 * removed at exit — and by the next pod that needs one, when its process is gone.
 */
let dataDir: string | undefined;
const dataFilesByContent = new Map<string, string>();
function sanitizedFiles(contents: readonly string[]): Map<string, string> {
  const out = new Map<string, string>();
  for (const content of contents) {
    let file = dataFilesByContent.get(content);
    if (file === undefined) {
      try {
        if (dataDir === undefined) {
          sweepDataDirs();
          dataDir = mkdtempSync(path.join(tmpdir(), `pod-sanitized-${process.pid}-`));
          const dir = dataDir;
          process.once("exit", () => rmSync(dir, { recursive: true, force: true }));
        }
        file = path.join(dataDir, `${createHash("sha256").update(content).digest("hex").slice(0, 16)}`);
        writeFileSync(file, content, { mode: 0o400, flag: "wx" });
      } catch {
        // Could not write it (or it is there already from this process): the descriptor path serves.
        if (file === undefined || !existsSync(file)) continue;
      }
      dataFilesByContent.set(content, file);
    }
    out.set(content, file);
  }
  return out;
}

/** Removes the sanitized-copy directories of pod processes that are gone (killed before their exit handler ran). */
function sweepDataDirs(): void {
  try {
    for (const name of readdirSync(tmpdir())) {
      const pid = /^pod-sanitized-(\d+)-/.exec(name)?.[1];
      if (pid === undefined || Number(pid) === process.pid || isAlive(Number(pid))) continue;
      rmSync(path.join(tmpdir(), name), { recursive: true, force: true });
    }
  } catch {
    // best effort: what is left holds nothing secret
  }
}

function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === "EPERM";
  }
}

/** Node's install dir (…/bin/node → …), which the forwarder runs from. */
async function nodePrefix(): Promise<string> {
  return path.dirname(path.dirname(await realpath(process.execPath)));
}
