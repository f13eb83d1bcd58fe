#!/usr/bin/env node
// The Action's install step: pod from the Action's own checkout ($GITHUB_ACTION_PATH, the
// pod repository at the ref the workflow named), never from a registry — pod is not on one.
//
// On a cache miss: `npm ci --ignore-scripts` there (the build needs the devDependencies; no
// dependency's install script runs on the runner), `npm run build`, `npm pack`, and an
// offline `npm install -g --prefix <install-dir>` of that tarball: exactly what a user of
// the release tarball gets. The Action's helpers (action/dist/lib.cjs) are copied next to
// it. A stamp file records the key, so a restored cache (actions/cache, keyed by setup.mjs)
// or a second use in the same job skips all of it.
//
// Outputs: pod-bin (the installed dist/pod.cjs), lib (the helpers), built (true/false).
// Adds <install-dir>/bin to PATH for the job's later steps (`pod status`, `pod history`).
import { spawnSync } from "node:child_process";
import { copyFileSync, existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { addPath, runStep, setOutputs } from "./io.mjs";

const STAMP = "pod-action-install.json";
const PACKAGE = "pod-ci-agent";

/** Where a prefix install puts things (npm's layout differs on Windows). */
export function layout(prefix) {
  const win = process.platform === "win32";
  const pkg = path.join(prefix, win ? "" : "lib", "node_modules", PACKAGE);
  return { pkg, podBin: path.join(pkg, "dist", "pod.cjs"), lib: path.join(prefix, "action-lib.cjs"), bin: win ? prefix : path.join(prefix, "bin"), stamp: path.join(prefix, STAMP) };
}

/** The install in `prefix` if it is complete and was made for `key`. */
export function installed(prefix, key) {
  const l = layout(prefix);
  try {
    const stamp = JSON.parse(readFileSync(l.stamp, "utf8"));
    if (stamp.key === key && existsSync(l.podBin) && existsSync(l.lib)) return l;
  } catch {
    // No stamp or a torn one: not installed.
  }
  return undefined;
}

function run(cmd, args, cwd, log) {
  log(`$ ${[cmd, ...args].join(" ")}`);
  // npm's own output goes to the log; nothing in it comes from the model.
  const r = spawnSync(cmd, args, { cwd, stdio: ["ignore", "pipe", "inherit"], encoding: "utf8", shell: process.platform === "win32" });
  if (r.error) throw new Error(`${cmd} could not start: ${r.error.message}`);
  if (r.status !== 0) {
    if (r.stdout) log(r.stdout.trimEnd());
    throw new Error(`\`${[cmd, ...args].join(" ")}\` failed (exit ${r.status}) in ${cwd}`);
  }
  return r.stdout;
}

/** Builds and installs pod from `actionPath` into `prefix`. */
export function buildAndInstall({ actionPath, prefix, key, log = (s) => process.stdout.write(`${s}\n`) }) {
  const version = JSON.parse(readFileSync(path.join(actionPath, "package.json"), "utf8")).version;
  rmSync(prefix, { recursive: true, force: true });
  run("npm", ["ci", "--ignore-scripts", "--no-audit", "--no-fund", "--prefer-offline"], actionPath, log);
  run("npm", ["run", "build"], actionPath, log);
  const packDir = mkdtempSync(path.join(tmpdir(), "pod-pack-"));
  try {
    const packed = JSON.parse(run("npm", ["pack", "--json", "--ignore-scripts", "--pack-destination", packDir], actionPath, log));
    const tarball = path.join(packDir, packed[0].filename);
    // Offline: the tarball has no dependencies to fetch.
    run("npm", ["install", "--global", "--prefix", prefix, "--offline", "--no-audit", "--no-fund", tarball], packDir, log);
  } finally {
    rmSync(packDir, { recursive: true, force: true });
  }
  const l = layout(prefix);
  copyFileSync(path.join(actionPath, "action", "dist", "lib.cjs"), l.lib);
  const reported = run(process.execPath, [l.podBin, "--version"], prefix, log).trim();
  if (reported !== version) throw new Error(`the installed pod says ${JSON.stringify(reported)}, expected ${version}`);
  writeFileSync(l.stamp, JSON.stringify({ key, version, from: actionPath }) + "\n");
  return l;
}

function main(env = process.env) {
  const actionPath = env.GITHUB_ACTION_PATH || path.resolve(path.dirname(fileURLToPath(import.meta.url)), "..");
  const prefix = env.POD_INSTALL_DIR;
  const key = env.POD_INSTALL_KEY;
  if (!prefix || !key) throw new Error("POD_INSTALL_DIR and POD_INSTALL_KEY come from the setup step");
  let l = installed(prefix, key);
  const built = !l;
  if (l) {
    process.stdout.write(`pod from the cache: ${l.pkg} (${key})\n`);
  } else {
    process.stdout.write(`::group::Install pod from ${actionPath}\n`);
    try {
      l = buildAndInstall({ actionPath, prefix, key });
    } finally {
      process.stdout.write("::endgroup::\n");
    }
  }
  addPath(l.bin, env);
  setOutputs({ "pod-bin": l.podBin, lib: l.lib, built: String(built) }, env);
  return 0;
}

runStep(import.meta.url, "pod: install", main);
