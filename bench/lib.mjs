// Shared helpers for the benchmarks: timing by median of repeated runs, the machine
// description that goes at the top of results.md, and real trees made git checkouts.
import { execFileSync, spawnSync } from "node:child_process";
import { existsSync, mkdirSync, rmSync, writeFileSync } from "node:fs";
import { cpus, totalmem } from "node:os";
import path from "node:path";

export const median = (xs) => {
  const s = [...xs].sort((a, b) => a - b);
  return s.length % 2 ? s[(s.length - 1) / 2] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2;
};

/** Runs `fn` (async) `runs` times after `warmup` runs; returns the median in ms. */
export async function timeIt(fn, { runs = 7, warmup = 1 } = {}) {
  for (let i = 0; i < warmup; i++) await fn();
  const times = [];
  for (let i = 0; i < runs; i++) {
    const t = performance.now();
    await fn();
    times.push(performance.now() - t);
  }
  return median(times);
}

/**
 * Median times of several async functions run in turn (a, b, a, b, ...) after one
 * warm-up round, so a slow spell of the machine hits each alike.
 */
export async function timeInterleaved(fns, { runs = 7 } = {}) {
  const times = fns.map(() => []);
  for (let i = 0; i <= runs; i++) {
    for (let k = 0; k < fns.length; k++) {
      const t = performance.now();
      await fns[k]();
      if (i > 0) times[k].push(performance.now() - t);
    }
  }
  return times.map(median);
}

/** Median wall times of whole processes, spawned synchronously in turn (after 2 warm-up rounds). */
export function timeProcesses(commands, runs = 31) {
  const times = commands.map(() => []);
  for (let i = 0; i < runs + 2; i++) {
    commands.forEach(([cmd, args, opts = {}], k) => {
      const t = performance.now();
      const r = spawnSync(cmd, args, { stdio: ["ignore", "pipe", "pipe"], ...opts });
      const dt = performance.now() - t;
      if (r.status !== 0) throw new Error(`${cmd} ${args.join(" ")} exited ${r.status}: ${r.stderr}`);
      if (i >= 2) times[k].push(dt);
    });
  }
  return times.map(median);
}

export function machine() {
  const c = cpus();
  return `${c[0]?.model ?? "unknown CPU"} × ${c.length} cores, ${(totalmem() / 2 ** 30).toFixed(0)} GiB, Node ${process.version}, ${process.platform}`;
}

export const fmt = (ms) => (ms >= 100 ? ms.toFixed(0) : ms.toFixed(1));
export const ratio = (a, b) => (a / b).toFixed(2);

/** git with an identity and nothing automatic (no gc, no maintenance, no line-ending rewrites). */
export const git = (cwd, ...args) =>
  execFileSync("git", ["-c", "user.email=bench@pod", "-c", "user.name=bench", "-c", "core.autocrlf=false", "-c", "gc.auto=0", "-c", "maintenance.auto=false", ...args], { cwd, stdio: ["ignore", "pipe", "pipe"], maxBuffer: 1 << 28 });

/**
 * A real tree as a git checkout as CI gets one, made once under bench/.corpora/<name>/:
 * `fill(src)` copies the tree into src/, which is committed and cloned (`--no-local`: a
 * pack and a fresh index). Returns the checkout's path.
 */
export function cachedCheckout(root, name, fill, log = () => {}) {
  const base = path.join(root, "bench/.corpora", name);
  const out = path.join(base, "checkout");
  if (existsSync(path.join(base, ".done"))) return out;
  log(`making the ${name} checkout (first run only)`);
  rmSync(base, { recursive: true, force: true });
  const src = path.join(base, "src");
  mkdirSync(src, { recursive: true });
  fill(src);
  git(src, "init", "-q", "-b", "main");
  git(src, "add", "-A");
  git(src, "commit", "-qm", "tree");
  git(base, "clone", "-q", "--no-local", "src", "checkout");
  rmSync(src, { recursive: true, force: true });
  writeFileSync(path.join(base, ".done"), "");
  return out;
}

