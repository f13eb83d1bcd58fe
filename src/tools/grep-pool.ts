import { availableParallelism } from "node:os";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { Worker } from "node:worker_threads";
import type { FileBatch, FileHit, SearchSpec } from "./grep-search.js";
import type { WorkerReply, WorkerRequest } from "./grep-worker.js";

declare const __POD_BUNDLE__: boolean | undefined;

interface Pending {
  resolve: (hits: FileHit[]) => void;
  reject: (err: Error) => void;
}

interface Slot {
  worker: Worker;
  inFlight: Map<number, Pending>;
}

/**
 * Worker threads that read and search files in parallel: one Node thread does
 * about half of what ripgrep does on two cores, because reading and matching are
 * CPU work (syscalls, memcpy, byte search), not waiting. Started on the first
 * large search of a process and kept for the rest of it; idle workers are unref'd
 * so they never keep pod alive.
 */
export class GrepPool {
  private readonly slots: Slot[];
  private nextId = 0;
  private broken: Error | undefined;
  private closing = false;

  private constructor(size: number, onBroken: (err: Error) => void) {
    const entry = workerEntry();
    this.slots = Array.from({ length: size }, () => {
      const worker = new Worker(entry.code, { eval: true, stdout: false, stderr: false });
      worker.unref();
      const slot: Slot = { worker, inFlight: new Map() };
      worker.on("message", (reply: WorkerReply) => this.settle(slot, reply));
      // A worker that dies takes its batches with it: fail them, and every later
      // search, so the caller falls back to searching in its own thread.
      const die = (err: Error) => {
        if (!this.broken) {
          this.broken = err;
          if (!this.closing) onBroken(err);
        }
        for (const p of slot.inFlight.values()) p.reject(err);
        slot.inFlight.clear();
      };
      worker.on("error", die);
      worker.on("exit", (code) => die(new Error(`grep worker exited with code ${code}`)));
      return slot;
    });
  }

  /**
   * A pool, or undefined when this machine has a single core (threads would only add
   * overhead). `onBroken` hears once if a worker dies, after which the caller searches
   * in its own thread: slower, never wrong, but worth telling a person about.
   */
  static start(onBroken: (err: Error) => void = () => {}): GrepPool | undefined {
    const size = Math.min(availableParallelism(), 4);
    return size >= 2 ? new GrepPool(size, onBroken) : undefined;
  }

  get size(): number {
    return this.slots.length;
  }

  get usable(): boolean {
    return this.broken === undefined;
  }

  /** Searches a batch on the least busy worker. Rejects if the worker dies. */
  search(spec: SearchSpec, batch: FileBatch): Promise<FileHit[]> {
    if (this.broken) return Promise.reject(this.broken);
    const slot = this.slots.reduce((a, b) => (b.inFlight.size < a.inFlight.size ? b : a));
    const id = this.nextId++;
    return new Promise<FileHit[]>((resolve, reject) => {
      if (slot.inFlight.size === 0) slot.worker.ref();
      slot.inFlight.set(id, { resolve, reject });
      slot.worker.postMessage({ id, spec, batch } satisfies WorkerRequest);
    });
  }

  async close(): Promise<void> {
    this.closing = true;
    await Promise.all(this.slots.map((s) => s.worker.terminate()));
  }

  private settle(slot: Slot, reply: WorkerReply): void {
    const pending = slot.inFlight.get(reply.id);
    if (!pending) return;
    slot.inFlight.delete(reply.id);
    // Only a worker with work in flight keeps the process alive.
    if (slot.inFlight.size === 0) slot.worker.unref();
    if ("error" in reply) pending.reject(new Error(reply.error));
    else pending.resolve(reply.hits);
  }
}

/**
 * The worker's code. Built, it is dist/grep-worker.cjs, one level above the command
 * bundles; from source (tests, bench) it is grep-worker.ts, loaded through tsx.
 */
function workerEntry(): { code: string } {
  if (typeof __POD_BUNDLE__ !== "undefined") {
    return { code: `require(${JSON.stringify(path.join(__dirname, "..", "grep-worker.cjs"))});` };
  }
  const file = fileURLToPath(new URL("./grep-worker.ts", import.meta.url));
  return { code: `require("tsx/cjs/api").register(); require(${JSON.stringify(file)});` };
}
