import type { ScopedFs } from "../scoped-fs.js";
import { walkFiles } from "../walk.js";
import type { GrepPool } from "./pool.js";
import type { FileBatch, SearchSpec } from "./search.js";

/** Files the warm-up searches, at most: enough for V8 to optimize the per-file path (see below). */
export const WARM_FILES = 2000;
/** Small batches, so a real call waits at most one (~1 ms) per worker behind the warm-up. */
const WARM_BATCH = 32;
const MAX_BYTES = 64 * 1024;
/**
 * What the warm-up searches with, a batch each in turn: the paths most calls take.
 * A pattern checked as most regexes are (its literal "function" occurs in most
 * source files, and each line holding it is decoded and tested; the `\x00` after it
 * is in no text file); a plain literal counted line by line in the bytes; a
 * case-insensitive literal (the WebAssembly finder). Files over 64 KB are skipped
 * after one read: a minified bundle holds "function" tens of thousands of times, and
 * a real call must never wait long behind a warm-up batch.
 */
export const WARM_SPECS: readonly SearchSpec[] = [
  { pattern: "function\\s+\\x00", caseInsensitive: false, multiline: false, mode: "files_with_matches", context: 0, maxBytes: MAX_BYTES },
  { pattern: "return", caseInsensitive: false, multiline: false, mode: "count", context: 0, maxBytes: MAX_BYTES },
  { pattern: "pod_warm_up", caseInsensitive: true, multiline: false, mode: "files_with_matches", context: 0, maxBytes: MAX_BYTES },
];

/**
 * A search nobody waits for, run while the first model request is in flight: the
 * first real Grep of a process otherwise pays for V8 compiling its hot path (open,
 * read, the literal search, the line check, in every worker; the walk in the main
 * thread) while it runs — profiled on the real binary, the first call used ~120 ms
 * more CPU than the fifth on an 11,500-file tree, most of it the optimizing compiler.
 *
 * Up to `limit` files of the scope, walked as a real call walks them (.gitignore,
 * deny), searched and forgotten; the walk starts at once, its batches wait in the
 * threads' queues while they load, and none keeps the process alive. Stopped by stop() (the first real call) or at the
 * limit; its batches are never terminated (that would throw the compiled code away),
 * the one in flight per worker just finishes.
 */
export function warmUp(fs: ScopedFs, pool: GrepPool, limit = WARM_FILES): { stop(): void; done: Promise<void> } {
  // halt ends the walk (at the limit, or on stop); stopped ends the batches too.
  const halt = new AbortController();
  let stopped = false;
  let walked = false;
  const search = pool.begin();
  const waiting: FileBatch[] = [];
  let sent = 0;
  let inFlight = 0;
  let left = limit;
  let finished: () => void = () => {};
  const done = new Promise<void>((resolve) => (finished = resolve));
  const settle = () => {
    if (inFlight === 0 && (stopped || (walked && waiting.length === 0))) finished();
  };
  const pump = () => {
    while (!stopped && inFlight < pool.size && waiting.length > 0) {
      inFlight++;
      // Nobody waits for these: they never keep the process alive.
      pool.search(WARM_SPECS[sent++ % WARM_SPECS.length]!, waiting.shift()!, search, false).then(
        () => {
          inFlight--;
          pump();
          settle();
        },
        () => {
          // A worker failed: the real call will say so.
          inFlight--;
          stopped = true;
          halt.abort();
          settle();
        },
      );
    }
  };
  const walk = async () => {
    // As a real call does (index.ts): relative to the cwd when that is the scope root.
    const prefix = process.cwd() === fs.root ? "" : `${fs.root}/`;
    await walkFiles(
      fs,
      fs.root,
      (files) => {
        for (let i = 0; i < files.length && left > 0; i += WARM_BATCH) {
          const rel = files.slice(i, i + Math.min(WARM_BATCH, left)).map((f) => f.rel);
          left -= rel.length;
          waiting.push({ prefix, rel });
        }
        if (left <= 0) halt.abort();
        pump();
      },
      halt.signal,
    );
  };
  walk()
    .catch(() => {})
    .finally(() => {
      walked = true;
      settle();
    });
  return {
    stop() {
      stopped = true;
      halt.abort();
      waiting.length = 0;
      settle();
    },
    /** Resolves when the warm-up has ended (its last batch back, or stopped). */
    done,
  };
}
