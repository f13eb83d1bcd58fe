import { availableParallelism } from "node:os";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { Worker } from "node:worker_threads";
import type { FileBatch, FileHit, SearchSpec } from "./search.js";
import type { WorkerData, WorkerReply, WorkerRequest } from "./worker.js";

declare const __POD_BUNDLE__: boolean | undefined;

const MAX_CRASHES = 8;

interface Pending {
  /** The Grep call this batch belongs to, so that call alone can be stopped. */
  search: number;
  /** Someone waits for this batch, so it keeps the process alive (a warm-up's does not). */
  keepAlive: boolean;
  batch: FileBatch;
  counts: Int32Array;
  resolve: (hits: FileHit[]) => void;
  reject: (err: Error) => void;
}

interface Slot {
  /** Undefined after a stop until the next search needs it: respawning at once would compete for the CPU with a cancel's exit. */
  worker: Worker | undefined;
  inFlight: Map<number, Pending>;
  /** Resolves when the worker has loaded (or died trying). */
  ready: Promise<void>;
  loaded: boolean;
  /** What keeps this worker (so the process) alive: batches someone waits for, and waiters of ready(). */
  holds: number;
}

/**
 * A batch whose Grep call was stopped (deadline or cancel) before it was done.
 * `found` holds the files the worker had found matching until then, with their
 * counts but without their lines.
 */
export class SearchStopped extends Error {
  constructor(
    message: string,
    readonly found: FileHit[] = [],
  ) {
    super(message);
  }
}

/**
 * The threads that run Grep's regex: the pattern comes from the model, and V8's
 * backtracking engine can take exponential time on one (`(a+)+$` on a line of a's).
 * It never runs in pod's main thread, so the event loop (lock refresh, cancel,
 * output) stays live whatever the pattern; a Grep call that passes its deadline or
 * is cancelled has its workers terminated (terminate() stops a regex mid-match)
 * and replaced.
 *
 * Why not a linear-time engine: measured on 40 MB of JavaScript (node_modules),
 * `\w+Sync\(` took 828 ms in V8, 10,659 ms in re2js (RE2 ported to JS), and
 * re2-wasm could not take more than 16 MB of text and took 4 s for 4 MB on
 * `err(or)?\s*=` (its per-call string copies). Threads also give the parallelism
 * Grep needs to keep up with ripgrep: reading and matching are CPU work.
 *
 * Started when a run's tools are prepared (or by the first Grep) and kept; a worker
 * without batches is unref'd, so it never keeps pod alive.
 */
export class GrepPool {
  private readonly slots: Slot[];
  private nextId = 0;
  private nextSearch = 0;
  private broken: Error | undefined;
  /** Workers that failed on their own; past MAX_CRASHES the pool gives up (a worker that cannot even load). */
  private crashes = 0;
  private closing = false;
  private readonly entry = workerEntry();

  private constructor(
    size: number,
    private readonly onBroken: (err: Error) => void,
  ) {
    this.slots = Array.from({ length: size }, () => ({ worker: undefined, inFlight: new Map(), ready: Promise.resolve(), loaded: false, holds: 0 }));
    for (const slot of this.slots) this.spawn(slot);
  }

  /**
   * A pool of one worker per core (at most 4, at least 1). `onBroken` hears once if
   * a worker fails on its own (not stopped by the pool): its batches fail, a fresh
   * worker takes its place, and the Grep call reports the files it could not search.
   */
  static start(onBroken: (err: Error) => void = () => {}): GrepPool {
    return new GrepPool(Math.max(1, Math.min(availableParallelism(), 4)), onBroken);
  }

  get size(): number {
    return this.slots.length;
  }

  get usable(): boolean {
    return this.broken === undefined;
  }

  /** A handle for one Grep call: its batches, and a way to stop them all. */
  begin(): number {
    return this.nextSearch++;
  }

  /**
   * Resolves when every worker has loaded: a Grep call's deadline counts from here,
   * so it measures the search, not a thread's start (~40 ms built, then its
   * drill's ~120 ms; far more from source on a loaded machine).
   */
  ready(): Promise<void> {
    if (!this.closing) for (const slot of this.slots) if (!slot.worker && this.crashes <= MAX_CRASHES) this.spawn(slot);
    // Someone waits: a loading worker keeps the process alive until it has loaded.
    for (const slot of this.slots) {
      const worker = slot.worker;
      if (!worker || slot.loaded) continue;
      this.hold(slot);
      void slot.ready.then(() => this.release(slot, worker));
    }
    return Promise.all(this.slots.map((s) => s.ready)).then(() => {});
  }

  /**
   * Searches a batch on the least busy worker. Rejects with SearchStopped if its call is
   * stopped, or an Error if the worker fails. A batch nobody waits for (`keepAlive`
   * false: the warm-up's) does not keep the process alive.
   */
  search(spec: SearchSpec, batch: FileBatch, search = -1, keepAlive = true): Promise<FileHit[]> {
    if (this.closing) return Promise.reject(new SearchStopped("the pool is closed"));
    if (this.crashes > MAX_CRASHES) return Promise.reject(this.broken!);
    const slot = this.slots.reduce((a, b) => (b.inFlight.size < a.inFlight.size ? b : a));
    if (!slot.worker) this.spawn(slot);
    const worker = slot.worker!;
    const id = this.nextId++;
    return new Promise<FileHit[]>((resolve, reject) => {
      if (keepAlive) this.hold(slot);
      const counts = new Int32Array(new SharedArrayBuffer(4 * batch.rel.length));
      slot.inFlight.set(id, { search, keepAlive, batch, counts, resolve, reject });
      worker.postMessage({ id, spec, batch, counts } satisfies WorkerRequest);
    });
  }

  /**
   * Stops a Grep call: every worker with one of its batches in flight is terminated
   * at once (mid-regex if need be) and replaced. Other calls' batches on those
   * workers are failed with SearchStopped too; a caller treats them as not searched.
   */
  stop(search: number): void {
    for (const slot of this.slots) {
      if (![...slot.inFlight.values()].some((p) => p.search === search)) continue;
      const old = slot.worker!;
      const pending = [...slot.inFlight.values()];
      slot.inFlight.clear();
      slot.worker = undefined;
      slot.ready = Promise.resolve();
      old.removeAllListeners("exit");
      old.removeAllListeners("error");
      old.on("error", () => {});
      void old.terminate();
      for (const p of pending) p.reject(new SearchStopped("stopped", foundSoFar(p)));
    }
  }

  async close(): Promise<void> {
    this.closing = true;
    await Promise.all(this.slots.map((s) => s.worker?.terminate()));
  }

  private spawn(slot: Slot): void {
    // A regex's backtracking stack lives in the worker; cap its heap too, so a
    // pathological pattern cannot take the machine's memory before its deadline.
    const worker = new Worker(this.entry.code, { eval: true, workerData: { drillFiles: this.entry.files } satisfies WorkerData, stdout: false, stderr: false, resourceLimits: { maxOldGenerationSizeMb: 1024 } });
    slot.worker = worker;
    slot.loaded = false;
    slot.holds = 0;
    let loaded: () => void = () => {};
    slot.ready = new Promise<void>((resolve) => (loaded = resolve));
    worker.on("message", (reply: WorkerReply) => {
      if (!("ready" in reply)) return this.settle(slot, reply);
      if (slot.worker === worker) slot.loaded = true;
      loaded();
    });
    // A worker that dies on its own takes its batches with it: fail them, and put a
    // fresh worker in its place for later batches.
    const die = (err: Error) => {
      loaded();
      if (slot.worker !== worker) return;
      if (!this.broken && !this.closing) {
        this.broken = err;
        this.onBroken(err);
      }
      for (const p of slot.inFlight.values()) p.reject(err);
      slot.inFlight.clear();
      slot.worker = undefined;
      this.crashes++;
    };
    worker.on("error", die);
    worker.on("exit", (code) => die(new Error(`grep worker exited with code ${code}`)));
    // Only a worker someone waits for keeps the process alive (hold/release): one
    // started ahead of its first search (prepare()), warming up, or idle never holds a
    // finished process open. Unref'd after its listeners: a "message" listener refs its
    // port again.
    worker.unref();
  }

  private hold(slot: Slot): void {
    if (slot.holds++ === 0) slot.worker?.ref();
  }

  /** Releases a hold taken on `worker`, if it is still the slot's (a replaced worker's holds went with it). */
  private release(slot: Slot, worker: Worker | undefined): void {
    if (!worker || slot.worker !== worker) return;
    if (--slot.holds === 0) worker.unref();
  }

  private settle(slot: Slot, reply: Exclude<WorkerReply, { ready: true }>): void {
    const pending = slot.inFlight.get(reply.id);
    if (!pending) return;
    slot.inFlight.delete(reply.id);
    if (pending.keepAlive) this.release(slot, slot.worker);
    if ("error" in reply) pending.reject(new Error(reply.error));
    else pending.resolve(reply.hits);
  }
}

function foundSoFar(p: Pending): FileHit[] {
  const found: FileHit[] = [];
  for (let i = 0; i < p.counts.length; i++) {
    const count = Atomics.load(p.counts, i);
    if (count > 0) found.push({ rel: p.batch.rel[i]!, lines: [], count });
  }
  return found;
}

/**
 * The worker's code. Built, it is dist/grep-worker.cjs, one level above the command
 * bundles; from source (tests, bench) it is worker.ts, loaded through tsx.
 */
function workerEntry(): { code: string; files: string[] } {
  if (typeof __POD_BUNDLE__ !== "undefined") {
    const file = path.join(__dirname, "..", "grep-worker.cjs");
    // The files its drill reads (drillReads): its own code, and a bundle over a read buffer.
    return { code: `require(${JSON.stringify(file)});`, files: [file, path.join(__dirname, "..", "undici.cjs")] };
  }
  const file = fileURLToPath(new URL("./worker.ts", import.meta.url));
  return { code: `require("tsx/cjs/api").register(); require(${JSON.stringify(file)});`, files: [file] };
}
