// Shared helpers for the benchmarks: timing by median of repeated runs, and the
// machine description that goes at the top of results.md.
import { spawnSync } from "node:child_process";
import { cpus, totalmem } from "node:os";

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
