// A Grep search thread: receives batches of files, answers with their hits. It
// holds no state beyond its read buffer and the patterns it has compiled, so a batch
// from any Grep call can go to any worker, and a worker stopped mid-batch (a
// pattern past its deadline, a cancel) is replaced by a fresh one at no loss.
import { parentPort, workerData } from "node:worker_threads";
import { drill, drillReads } from "./drill.js";
import { Scanner } from "./finder.js";
import { compileMatcher, FileReader, type Matcher } from "./matcher.js";
import { searchBatch, type FileBatch, type FileHit, type SearchSpec } from "./search.js";

export interface WorkerRequest {
  id: number;
  spec: SearchSpec;
  batch: FileBatch;
  /**
   * Shared with the pool: the worker stores each file's match count here as soon as
   * it is known, so a call stopped mid-batch (the worker terminated) keeps the files
   * found before the stop without a message per file.
   */
  counts: Int32Array;
}
/** What a worker starts with: real files its drill reads (drillReads), a small one first. */
export interface WorkerData {
  drillFiles: string[];
}
/** `ready` is sent once, when the worker has loaded. */
export type WorkerReply = { id: number; hits: FileHit[] } | { id: number; error: string } | { ready: true };

/** Compiled patterns a thread keeps (the warm-up's, then a run's own): a few regexes and literals each. */
const MAX_PATTERNS = 32;

const port = parentPort;
if (port) {
  // V8 assumes no ArrayBuffer has been detached until one is, and then throws away
  // every optimized function that reads a typed array. A WebAssembly memory that grows
  // detaches its old buffer: the case-insensitive finder's did so on the first file
  // larger than its memory, in the middle of a user's first search (profiled: every
  // hot function of both threads deoptimized at once). Detached here, before anything
  // is optimized, that cost is paid at start.
  const first = new ArrayBuffer(8);
  structuredClone(first, { transfer: [first] });
  // Files are read into the finder's memory, and searched there (finder.ts).
  const scanner = new Scanner();
  const reader = new FileReader(scanner);
  // Every pattern it has met, not just the last: the warm-up deals its seven in turn,
  // a batch each, and compiled one per batch (~250 a run, 4-16 ms), which made the
  // pattern tokenizer (syntax.ts) hot enough for V8 to optimize it during a user's
  // first call (~6 ms of its compiler per thread, in --trace-opt).
  const compiled = new Map<string, Matcher>();
  port.on("message", ({ id, spec, batch, counts }: WorkerRequest) => {
    let reply: WorkerReply;
    try {
      const key = `${spec.caseInsensitive ? "i" : "-"}${spec.multiline ? "U" : "-"}${spec.pattern}`;
      let matcher = compiled.get(key);
      if (!matcher) {
        const m = compileMatcher(spec.pattern, spec.caseInsensitive, spec.multiline, scanner);
        if ("error" in m) throw new Error(m.error);
        if (compiled.size >= MAX_PATTERNS) compiled.clear();
        compiled.set(key, (matcher = m));
      }
      reply = { id, hits: searchBatch(reader, batch, matcher, spec, (i, hit) => Atomics.store(counts, i, hit.count)) };
      reader.shrink();
    } catch (err) {
      reply = { id, error: err instanceof Error ? err.message : String(err) };
    }
    port.postMessage(reply);
  });
  // The drill (drill.ts) first, at once: run alongside the warm-up's batches, it was
  // still running when the bench's first call came (the model answering in 500 ms).
  drill(scanner);
  drillReads(reader, (workerData as WorkerData | undefined)?.drillFiles ?? []);
  port.postMessage({ ready: true } satisfies WorkerReply);
}
