#!/usr/bin/env node
// The Action's sandbox step. Bash runs only inside an OS sandbox (bubblewrap on Linux);
// a runner without one would give a green job whose every Bash call was refused. So:
//
// 1. ask pod (action/dist/lib.cjs preflight: pod's own manifest discovery and sandbox probe)
//    whether this pod's Bash needs a sandbox and whether one starts here;
// 2. if it needs one that does not start, and the `sandbox` input allows changing the
//    machine, fix what is missing: install bubblewrap (apt-get, through passwordless sudo),
//    give bwrap an AppArmor profile that lets it create user namespaces (Ubuntu 23.10+
//    restricts them; GitHub's Ubuntu 24.04 images have the restriction on), and only if
//    that is not enough lift the restriction (sysctl) — asking pod again after each;
// 3. write status (ok | not-needed | unavailable | unknown) and, when unavailable, a
//    message that says why and how to fix it. The run step fails on "unavailable"
//    before pod starts. The same preflight also tells the run step the pod's workspace
//    (scope-root), where the changes carried across jobs apply.
//
// `sandbox` input: auto (default) changes the machine only on GitHub-hosted runners (a
// fresh VM discarded after the job); setup changes it wherever passwordless sudo exists;
// check never changes it.
import { spawnSync } from "node:child_process";
import { existsSync, readFileSync } from "node:fs";
import path from "node:path";
import { runStep, setOutputs } from "./io.mjs";

const input = (env, name) => (env[`INPUT_${name.toUpperCase().replaceAll("-", "_")}`] ?? "").trim();

/** pod's own answer, from a fresh process (pod caches a probe per process). */
export function preflight(lib, cwd, manifest) {
  const r = spawnSync(process.execPath, [lib, "preflight", JSON.stringify({ cwd, manifest })], { encoding: "utf8", env: process.env });
  try {
    return JSON.parse(r.stdout.trim().split("\n").pop());
  } catch {
    return { manifestError: `the preflight did not answer (exit ${r.status}): ${(r.stderr || "").trim().slice(0, 300)}` };
  }
}

const readSysctl = (p) => {
  try {
    return readFileSync(p, "utf8").trim();
  } catch {
    return undefined;
  }
};

function which(name, env) {
  for (const dir of (env.PATH ?? "").split(path.delimiter)) {
    if (dir && existsSync(path.join(dir, name))) return path.join(dir, name);
  }
  return undefined;
}

/** What the machine looks like, for the plan and the explanation. */
export function diagnose(env = process.env) {
  const bwrapName = env.POD_BWRAP || "bwrap";
  const bwrap = path.isAbsolute(bwrapName) ? (existsSync(bwrapName) ? bwrapName : undefined) : which(bwrapName, env);
  const root = typeof process.getuid === "function" && process.getuid() === 0;
  const sudo = root ? "root" : which("sudo", env) && spawnSync("sudo", ["-n", "true"], { stdio: "ignore" }).status === 0 ? "sudo" : undefined;
  let cgroup = "";
  try {
    cgroup = readFileSync("/proc/1/cgroup", "utf8");
  } catch {
    // not Linux, or no /proc
  }
  return {
    platform: process.platform,
    bwrap,
    apparmorRestrict: readSysctl("/proc/sys/kernel/apparmor_restrict_unprivileged_userns"),
    usernsClone: readSysctl("/proc/sys/kernel/unprivileged_userns_clone"),
    maxUserNamespaces: readSysctl("/proc/sys/user/max_user_namespaces"),
    container: existsSync("/.dockerenv") || existsSync("/run/.containerenv") || /docker|kubepods|containerd|lxc/.test(cgroup),
    apt: Boolean(which("apt-get", env)),
    apparmorParser: Boolean(which("apparmor_parser", env)) || existsSync("/sbin/apparmor_parser") || existsSync("/usr/sbin/apparmor_parser"),
    sudo,
  };
}

/** A profile that lets only bwrap create user namespaces (Ubuntu's documented way for a program that needs them). */
export function bwrapProfile(bwrapPath) {
  return [
    "abi <abi/4.0>,",
    "include <tunables/global>",
    "",
    `profile pod-bwrap ${bwrapPath} flags=(unconfined) {`,
    "  userns,",
    "  include if exists <local/pod-bwrap>",
    "}",
    "",
  ].join("\n");
}

/**
 * The fixes to try, in order (each followed by asking pod again): pure, so it is tested
 * for every kind of machine. `hosted`: the runner is GitHub-hosted.
 */
export function planFixes(d, policy, hosted) {
  if (d.platform !== "linux") return [];
  const change = policy === "setup" || (policy === "auto" && hosted);
  if (!change || !d.sudo) return [];
  const as = (argv) => (d.sudo === "root" ? argv : ["sudo", "-n", ...argv]);
  const fixes = [];
  if (!d.bwrap && d.apt) {
    fixes.push({
      what: "install bubblewrap",
      steps: [as(["apt-get", "install", "-y", "--no-install-recommends", "bubblewrap"])],
      // Stale package lists on an image: update once, then install.
      orElse: [as(["apt-get", "update", "-q"]), as(["apt-get", "install", "-y", "--no-install-recommends", "bubblewrap"])],
    });
  }
  if (d.apparmorRestrict === "1") {
    if (d.apparmorParser) {
      fixes.push({ what: "give bwrap an AppArmor profile that allows user namespaces", profile: true, steps: [] });
    }
    fixes.push({ what: "lift AppArmor's user-namespace restriction on this runner", steps: [as(["sysctl", "-w", "kernel.apparmor_restrict_unprivileged_userns=0"])] });
  }
  return fixes;
}

const PROFILE_FILE = "/etc/apparmor.d/pod-bwrap";

/** The explanation people need when no sandbox can start: why, and what fixes it. */
export function explain(d, pf) {
  const lines = [`${pf.message}.`];
  if (d.platform !== "linux") {
    lines.push("pod's Bash sandbox is bubblewrap on Linux and sandbox-exec on macOS; this runner has neither.");
  } else if (!d.bwrap) {
    lines.push(
      "bubblewrap is not installed. Install it in a step before this one: `sudo apt-get install -y bubblewrap` (Debian/Ubuntu) or `sudo dnf install -y bubblewrap`. The Action does this itself on GitHub-hosted runners; `sandbox: setup` makes it do so on any runner with passwordless sudo.",
    );
  } else if (d.apparmorRestrict === "1") {
    lines.push(
      "AppArmor restricts unprivileged user namespaces here (kernel.apparmor_restrict_unprivileged_userns = 1, the default since Ubuntu 23.10 and on GitHub's Ubuntu 24.04 images), so bwrap cannot create its sandbox. Ubuntu's documented fix is an AppArmor profile for the program that needs them, in a step before this one:",
      `  printf '%s\\n' 'abi <abi/4.0>,' 'include <tunables/global>' 'profile pod-bwrap ${d.bwrap} flags=(unconfined) {' '  userns,' '}' | sudo tee ${PROFILE_FILE} && sudo apparmor_parser -r ${PROFILE_FILE}`,
      "or, on a machine used only for this job, lift the restriction: `sudo sysctl -w kernel.apparmor_restrict_unprivileged_userns=0`.",
    );
  } else if (d.container) {
    lines.push(
      "This job runs in a container whose runtime does not let bwrap create namespaces. With Docker: its default seccomp profile refuses new user namespaces (`--security-opt seccomp=unconfined`, or a profile that allows clone/unshare with CLONE_NEWUSER), its AppArmor profile refuses the mounts (`--security-opt apparmor=unconfined` on AppArmor hosts), and its masked /proc paths keep a fresh /proc from being mounted (`--security-opt systempaths=unconfined`). docs/ci.md, \"Sandbox on runners\", has the details.",
    );
  } else if (d.usernsClone === "0" || d.maxUserNamespaces === "0") {
    lines.push("Unprivileged user namespaces are turned off on this machine: `sudo sysctl -w kernel.unprivileged_userns_clone=1` (Debian) or `sudo sysctl -w user.max_user_namespaces=15000`.");
  }
  lines.push(`pod's own advice: ${pf.hint}`);
  lines.push('If Bash is not needed, turn it off ([tools.bash] enabled = false); sandbox = "off" runs it unconfined, a documented risk.');
  return lines.join("\n");
}

function sh(argv, log) {
  log(`$ ${argv.join(" ")}`);
  const r = spawnSync(argv[0], argv.slice(1), { stdio: ["ignore", "inherit", "inherit"] });
  return r.status === 0;
}

function applyFix(fix, d, log) {
  if (fix.profile) {
    const as = (argv) => (d.sudo === "root" ? argv : ["sudo", "-n", ...argv]);
    log(`writing ${PROFILE_FILE}:\n${bwrapProfile(d.bwrap)}`);
    const tee = spawnSync(as(["tee", PROFILE_FILE])[0], as(["tee", PROFILE_FILE]).slice(1), { input: bwrapProfile(d.bwrap), stdio: ["pipe", "ignore", "inherit"] });
    return tee.status === 0 && sh(as(["apparmor_parser", "-r", PROFILE_FILE]), log);
  }
  if (fix.steps.every((s) => sh(s, log))) return true;
  return fix.orElse ? fix.orElse.every((s) => sh(s, log)) : false;
}

/** The whole step, returning its outputs. */
export function ensureSandbox(env = process.env, log = (s) => process.stdout.write(`${s}\n`)) {
  const lib = env.POD_ACTION_LIB;
  const cwd = path.resolve(env.GITHUB_WORKSPACE || ".", input(env, "working-directory") || ".");
  const manifest = input(env, "manifest") || undefined;
  const policy = input(env, "sandbox") || "auto";
  if (!["auto", "setup", "check"].includes(policy)) throw new Error(`sandbox: ${JSON.stringify(policy)} is not one of auto, setup, check`);
  let pf = preflight(lib, cwd, manifest);
  const scopeRoot = pf.scopeRoot ?? "";
  if (pf.manifestError) return { status: "unknown", kind: "", message: "", scopeRoot };
  if (!pf.bash) return { status: "not-needed", kind: "", message: "", scopeRoot };
  if (pf.ok) return { status: "ok", kind: pf.kind, message: "", scopeRoot };
  let d = diagnose(env);
  const hosted = env.RUNNER_ENVIRONMENT === "github-hosted";
  const fixes = planFixes(d, policy, hosted);
  if (fixes.length) log(`pod's Bash needs a sandbox and none starts here (${pf.message}); preparing one (sandbox: ${policy}).`);
  for (const fix of fixes) {
    log(`- ${fix.what}`);
    if (!applyFix(fix, d, log)) log(`  (that did not work)`);
    pf = preflight(lib, cwd, manifest);
    if (pf.ok) return { status: "ok", kind: pf.kind, message: "", prepared: fix.what, scopeRoot };
    d = diagnose(env);
  }
  return { status: "unavailable", kind: "", message: explain(d, pf), scopeRoot };
}

function main() {
  const r = ensureSandbox();
  if (r.status === "ok") process.stdout.write(`pod's Bash sandbox: ${r.kind}${r.prepared ? ` (after: ${r.prepared})` : ""}\n`);
  if (r.status === "unavailable") process.stdout.write(`pod's Bash has no sandbox on this runner; the run step will stop before pod starts.\n`);
  setOutputs({ status: r.status, kind: r.kind, message: r.message, "scope-root": r.scopeRoot });
  return 0;
}

runStep(import.meta.url, "pod: sandbox", main);
