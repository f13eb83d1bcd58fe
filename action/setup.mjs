#!/usr/bin/env node
// The Action's first step: works out every name and place the later steps use, from the
// runner's variables and the inputs, and writes them as this step's outputs. Nothing here
// runs npm or pod; it imports only node: built-ins and ./io.mjs.
//
// - install-key / install-dir: where pod is installed (under $RUNNER_TEMP) and the cache key
//   of that install: the package version plus a hash of the Action's checkout, so any ref
//   (a branch, a sha, a tag) gets the build of exactly its own sources.
// - runtime-dir, runtime-key, runtime-restore-keys: pod's runtime directory (outside the
//   workspace unless the runtime-dir input says otherwise) and its cache keys. A restore
//   looks only at caches of THIS workflow run (and matrix leg), so a new run never picks
//   up another run's session or pause; `continue-from` names another run explicitly.
// - carry-dir: where the patches of what pod changed in this workflow run's workspace are
//   kept, cached with the runtime dir, so a later job's fresh checkout gets them back.
// - step-dir, events-file, artifact-name: this step's own directory under $RUNNER_TEMP
//   (numbered, so two uses of the Action in one job do not meet), the JSONL events file in
//   it, and an artifact name unique per job, matrix leg, attempt and use.
import { createHash } from "node:crypto";
import { lstatSync, mkdirSync, readdirSync, readFileSync, readlinkSync } from "node:fs";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { command, runStep, setOutputs } from "./io.mjs";

const input = (env, name) => (env[`INPUT_${name.toUpperCase().replaceAll("-", "_")}`] ?? "").trim();

/** Directories of the checkout that do not go into the installed pod. */
const NOT_BUILT = new Set(["node_modules", ".git", "dist", "test", "bench", ".pod"]);

/** A hash of the files the build reads (everything but tests, benchmarks and build output). */
export function treeHash(root) {
  const h = createHash("sha256");
  const walk = (dir, rel) => {
    for (const name of readdirSync(dir).sort()) {
      if (NOT_BUILT.has(name)) continue;
      const abs = path.join(dir, name);
      const r = rel ? `${rel}/${name}` : name;
      const st = lstatSync(abs);
      if (st.isDirectory()) walk(abs, r);
      else if (st.isSymbolicLink()) h.update(`L ${r}\0${readlinkSync(abs)}\0`);
      else if (st.isFile()) h.update(`F ${r}\0`).update(readFileSync(abs)).update("\0");
    }
  };
  walk(root, "");
  return h.digest("hex");
}

/** The matrix leg as a short stable name ("" outside a matrix): legs with the same values get the same name. */
export function legName(matrixJson) {
  let m;
  try {
    m = JSON.parse(matrixJson || "null");
  } catch {
    return "";
  }
  if (m === null || typeof m !== "object" || Object.keys(m).length === 0) return "";
  const canon = (v) => (Array.isArray(v) ? v.map(canon) : v && typeof v === "object" ? Object.fromEntries(Object.keys(v).sort().map((k) => [k, canon(v[k])])) : v);
  return `m${createHash("sha256").update(JSON.stringify(canon(m))).digest("hex").slice(0, 8)}`;
}

/** A safe piece of a cache key or artifact name. */
const piece = (s) => String(s).replace(/[^\w.-]+/g, "_");

/** The cache keys of pod's runtime directory for this run, leg and use. */
export function runtimeKeys({ cacheKey, leg, runId, attempt, job, step, continueFrom, now = Date.now() }) {
  const base = `${cacheKey}-${leg ? `${leg}-` : ""}run`;
  const prefix = `${base}${runId}-`;
  // Unique per save: caches are immutable, and the newest match of a prefix wins a restore.
  const key = `${prefix}${attempt}-${piece(job)}-${step}-${now.toString(36)}`;
  const restore = [prefix];
  if (continueFrom === "latest") restore.push(base);
  else if (/^\d+$/.test(continueFrom)) restore.push(`${base}${continueFrom}-`);
  else if (continueFrom) throw new Error(`continue-from: ${JSON.stringify(continueFrom)} is neither a workflow run id nor "latest"`);
  return { key, restore };
}

/** Numbered directories under $RUNNER_TEMP/pod-action: the first free one is this use's. */
function claimStepDir(root) {
  mkdirSync(root, { recursive: true });
  for (let n = 1; ; n++) {
    try {
      mkdirSync(path.join(root, `step-${n}`));
      return { n, dir: path.join(root, `step-${n}`) };
    } catch (err) {
      if (err.code !== "EEXIST") throw err;
    }
  }
}

/** Where the action's own repository is named in `uses:` (for the approval step it prints). */
export function actionUses(env) {
  const repo = env.POD_ACTION_REPOSITORY || env.GITHUB_ACTION_REPOSITORY;
  const ref = env.POD_ACTION_REF || env.GITHUB_ACTION_REF;
  if (repo && ref) return `${repo}@${ref}`;
  // Inside a composite action those can be empty; the checkout's place says it:
  // <runner>/_actions/<owner>/<repo>/<ref>.
  const m = /[\\/]_actions[\\/]([^\\/]+)[\\/]([^\\/]+)[\\/](.+?)[\\/]?$/.exec(env.GITHUB_ACTION_PATH ?? "");
  if (m) return `${m[1]}/${m[2]}@${m[3].replaceAll("\\", "/")}`;
  if (env.GITHUB_ACTION_PATH && env.GITHUB_WORKSPACE && path.resolve(env.GITHUB_ACTION_PATH) === path.resolve(env.GITHUB_WORKSPACE)) return "./";
  return "<owner>/pod@<ref>";
}

/** The install's cache key: this checkout's version and sources, on this OS and architecture. */
export function installKey({ os, arch, version, actionPath }) {
  return `pod-install-${piece(os)}-${piece(arch)}-${version}-${treeHash(actionPath).slice(0, 20)}`;
}

export function plan(env = process.env, now = Date.now()) {
  const temp = env.RUNNER_TEMP;
  if (!temp) throw new Error("RUNNER_TEMP is not set: this script runs inside a GitHub Actions job");
  const actionPath = env.GITHUB_ACTION_PATH || path.resolve(path.dirname(fileURLToPath(import.meta.url)), "..");
  const version = JSON.parse(readFileSync(path.join(actionPath, "package.json"), "utf8")).version;
  const workDir = path.resolve(env.GITHUB_WORKSPACE || ".", input(env, "working-directory") || ".");
  const runtimeInput = input(env, "runtime-dir");
  const runtimeDir = runtimeInput ? path.resolve(workDir, runtimeInput) : path.join(temp, "pod-runtime");
  const leg = legName(env.POD_MATRIX);
  const step = claimStepDir(path.join(temp, "pod-action"));
  const job = env.GITHUB_JOB || "job";
  const attempt = env.GITHUB_RUN_ATTEMPT || "1";
  const keys = runtimeKeys({
    cacheKey: input(env, "cache-key") || "pod-runtime",
    leg,
    runId: env.GITHUB_RUN_ID || "0",
    attempt,
    job,
    step: step.n,
    continueFrom: input(env, "continue-from"),
    now,
  });
  const artifact = `${input(env, "artifact-name") || "pod-events"}-${piece(job)}${leg ? `-${leg}` : ""}-${attempt}${step.n > 1 ? `-${step.n}` : ""}`;
  return {
    version,
    "install-key": installKey({ os: env.RUNNER_OS || process.platform, arch: env.RUNNER_ARCH || process.arch, version, actionPath }),
    "install-dir": path.join(temp, "pod-ci-agent"),
    "working-directory": workDir,
    "runtime-dir": runtimeDir,
    // The run's changes to the workspace, as patches, cached with the runtime dir (run.mjs).
    "carry-dir": path.join(temp, "pod-carry"),
    "runtime-key": keys.key,
    "runtime-restore-keys": keys.restore.join("\n"),
    leg,
    "step-dir": step.dir,
    "events-file": path.join(step.dir, "events.jsonl"),
    // What this step changed, as pod's --diff wrote it (run.mjs; only with carry-changes).
    "patch-file": path.join(step.dir, "changes.patch"),
    "artifact-name": artifact,
    uses: actionUses(env),
  };
}

function main() {
  const [major] = process.versions.node.split(".").map(Number);
  if (major < 20) {
    process.stdout.write(`${command("error", { title: "pod" }, `pod needs Node.js 20 or newer on PATH, found ${process.versions.node}; add actions/setup-node with node-version: 20 before this step`)}\n`);
    return 1;
  }
  const out = plan();
  setOutputs(out);
  process.stdout.write(`pod ${out.version}: runtime directory ${out["runtime-dir"]} (cache ${out["runtime-key"]}), events ${out["events-file"]}\n`);
  return 0;
}

runStep(import.meta.url, "pod", main);
