/**
 * POD_TIMING=1: `pod-timing {json}` lines on stderr, for the benchmarks: each tool
 * call's start and end, the duration of each of pod's own steps between turns (store
 * appends, the status save, building the request, the sync), and when each request was
 * handed to the socket and each response had fully arrived (epoch ms, high resolution).
 * Never stdout.
 */
export const TIMING = process.env.POD_TIMING === "1";

export function timing(t: object): void {
  process.stderr.write(`pod-timing ${JSON.stringify(t)}\n`);
}

/** Now, in epoch ms with sub-millisecond resolution (comparable across processes). */
export function epochMs(): number {
  return performance.timeOrigin + performance.now();
}
