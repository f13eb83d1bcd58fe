import { spawn } from "node:child_process";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import path from "node:path";
import { fail, OUTPUT_CAP_CHARS } from "../tools/text.js";
import type { ToolResult } from "../tools/types.js";
import { bwrapArgs } from "./bwrap.js";
import { bwrapBinary, type SandboxKind } from "./detect.js";
import { CappedOutput } from "./output.js";
import type { SandboxPolicy } from "./policy.js";
import { FORWARDER, proxyEnv, SANDBOX_PROXY_PORT, SANDBOX_PROXY_SOCKET, startProxy, type AllowlistProxy } from "./proxy.js";
import { seatbeltProfile } from "./seatbelt.js";

const KILL_GRACE_MS = 2000;

export interface RunOptions {
  kind: SandboxKind;
  policy: SandboxPolicy;
  command: string;
  timeoutMs: number;
  signal: AbortSignal;
  cap?: number;
}

/**
 * Runs one command and ends its whole process tree at the timeout or on cancel.
 *
 * Under bwrap the command is in its own PID namespace whose init is bwrap's child:
 * SIGKILL to bwrap's process group takes bwrap down, `--die-with-parent` takes the
 * namespace's init down, and the kernel kills every process left in the namespace —
 * setsid'd and double-forked ones included; none can leave it. Unsandboxed
 * (sandbox = "off") and under seatbelt there is only the process group, which a
 * setsid() escapes: one of the documented risks of those modes.
 */
export async function runSandboxed(opts: RunOptions): Promise<ToolResult> {
  const { policy } = opts;
  let proxy: AllowlistProxy | undefined;
  let scratch: string | undefined;
  try {
    let file: string;
    let args: string[];
    let env: Record<string, string> = policy.env;
    let inner = ["bash", "-c", opts.command];
    // The allowlist proxy needs the forwarder inside a network namespace: Linux only.
    if (Array.isArray(policy.network) && opts.kind === "bwrap") {
      proxy = await startProxy(policy.network);
      env = { ...env, ...proxyEnv() };
    }
    if (opts.kind === "bwrap") {
      if (proxy) inner = [process.execPath, "-e", FORWARDER, SANDBOX_PROXY_SOCKET, String(SANDBOX_PROXY_PORT), ...inner];
      file = bwrapBinary();
      args = bwrapArgs(policy, inner, proxy ? [{ src: proxy.socket, dest: SANDBOX_PROXY_SOCKET }] : []);
    } else if (opts.kind === "seatbelt") {
      // No network namespace to put a forwarder in: a host list means no network here (documented).
      scratch = await mkdtemp(path.join(tmpdir(), "pod-bash-"));
      env = { ...env, HOME: scratch, TMPDIR: scratch };
      file = "/usr/bin/sandbox-exec";
      args = ["-p", seatbeltProfile(policy, scratch), ...inner];
    } else {
      // sandbox = "off": the documented risk. A private HOME/TMPDIR still, and the minimal environment.
      scratch = await mkdtemp(path.join(tmpdir(), "pod-bash-"));
      env = { ...env, HOME: scratch, TMPDIR: scratch };
      [file, ...args] = inner as [string, ...string[]];
    }
    return await spawnCapped(file, args, { cwd: policy.root, env, timeoutMs: opts.timeoutMs, signal: opts.signal, cap: opts.cap ?? OUTPUT_CAP_CHARS });
  } finally {
    await proxy?.close().catch(() => {});
    if (scratch) await rm(scratch, { recursive: true, force: true }).catch(() => {});
  }
}

function spawnCapped(file: string, args: string[], o: { cwd: string; env: Record<string, string>; timeoutMs: number; signal: AbortSignal; cap: number }): Promise<ToolResult> {
  return new Promise((resolve) => {
    const child = spawn(file, args, { cwd: o.cwd, env: o.env, detached: true, stdio: ["ignore", "pipe", "pipe"] });
    const out = new CappedOutput(o.cap);
    child.stdout!.on("data", (d: Buffer) => out.write(d));
    child.stderr!.on("data", (d: Buffer) => out.write(d));

    let reason: string | undefined;
    const signalGroup = (sig: NodeJS.Signals) => {
      try {
        process.kill(-child.pid!, sig);
      } catch {}
    };
    const stop = (why: string) => {
      if (reason) return;
      reason = why;
      signalGroup("SIGTERM");
      setTimeout(() => signalGroup("SIGKILL"), KILL_GRACE_MS).unref();
    };
    const timer = setTimeout(() => stop(`timed out after ${Math.round(o.timeoutMs / 1000)}s`), o.timeoutMs);
    const onAbort = () => stop("cancelled");
    o.signal.addEventListener("abort", onAbort, { once: true });
    if (o.signal.aborted) onAbort();

    const done = () => {
      clearTimeout(timer);
      o.signal.removeEventListener("abort", onAbort);
    };
    child.on("error", (err) => {
      done();
      resolve(fail(`Could not start ${file}: ${err.message}`));
    });
    // On "exit", not only "close": a child that escaped the group (possible only
    // unsandboxed) may hold the pipes open; give them a moment to drain, then stop reading.
    let exited: { code: number | null; sig: NodeJS.Signals | null } | undefined;
    let settled = false;
    const settle = () => {
      if (settled || !exited) return;
      settled = true;
      child.stdout!.destroy();
      child.stderr!.destroy();
      const { code, sig } = exited;
      const { text, truncated } = out.finish();
      const sep = text === "" || text.endsWith("\n") ? "" : "\n";
      if (reason) resolve({ output: `${text}${sep}[command ${reason}; all its processes were killed]`, isError: true, truncated });
      else resolve({ output: `${text}${sep}[exit code: ${code ?? `signal ${sig}`}]`, isError: false, truncated });
    };
    child.on("exit", (code, sig) => {
      done();
      exited = { code, sig };
      // Nothing the command left in its group outlives it (under bwrap the namespace is already gone).
      signalGroup("SIGKILL");
      setTimeout(settle, 250);
    });
    child.on("close", () => setImmediate(settle));
  });
}
