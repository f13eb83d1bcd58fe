import { parseJsonl, spawnPod, type PodOptions } from "../helpers/pod-process.js";
import { schemaErrors } from "../helpers/event-schema.js";

export interface GuardedResult {
  code: number | null;
  stdout: string;
  stderr: string;
  events: any[];
  /** True when pod was still running after the guard's time and was killed. */
  killed: boolean;
}

/**
 * Runs pod like runPod, but kills it (SIGKILL) after `guardMs`: an attack that makes pod
 * hang must fail its test, not hang the suite. Every complete stdout line is still
 * checked against `pod schema`.
 */
export function runGuarded(args: string[], opts: PodOptions, guardMs: number): Promise<GuardedResult> {
  const child = spawnPod(args, opts);
  let killed = false;
  let stdout = "";
  let stderr = "";
  child.stdout!.setEncoding("utf8").on("data", (d: string) => (stdout += d));
  child.stderr!.setEncoding("utf8").on("data", (d: string) => (stderr += d));
  const timer = setTimeout(() => {
    killed = true;
    child.kill("SIGKILL");
  }, guardMs);
  return new Promise((resolve, reject) => {
    child.on("error", reject);
    child.on("close", (code) => {
      clearTimeout(timer);
      try {
        const complete = stdout.slice(0, stdout.lastIndexOf("\n") + 1);
        const events = parseJsonl(complete);
        for (const e of events) {
          const problem = schemaErrors(e);
          if (problem) throw new Error(`event does not match pod schema: ${problem}\n${JSON.stringify(e)}`);
        }
        resolve({ code, stdout, stderr, events, killed });
      } catch (err) {
        reject(new Error(`${(err as Error).message}\nstderr: ${stderr}`));
      }
    });
  });
}
