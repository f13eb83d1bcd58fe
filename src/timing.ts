import { writeSync } from "node:fs";
import { podEnv } from "./env-config.js";

/**
 * POD_TIMING=1: `pod-timing {json}` lines on stderr, for the benchmarks: each tool
 * call's start and end, the duration of each of pod's own steps between turns (store
 * appends, the status save, building the request, the sync), and when each request was
 * handed to the socket and each response had fully arrived (epoch ms, high resolution),
 * and when each step of a run's start-up was done (`startup`, ms since the process started).
 * Never stdout.
 */
export const TIMING = podEnv().timing;

/**
 * Kept in memory and written when the process exits: a write to stderr per stamp (six
 * or more a turn) would itself lengthen the intervals being timed.
 */
const stamps: object[] = [];

export function timing(t: object): void {
  if (stamps.length === 0) process.once("exit", () => writeSync(2, stamps.map((s) => `pod-timing ${JSON.stringify(s)}\n`).join("")));
  stamps.push(t);
}

/** Now, in epoch ms with sub-millisecond resolution (comparable across processes). */
export function epochMs(): number {
  return performance.timeOrigin + performance.now();
}
