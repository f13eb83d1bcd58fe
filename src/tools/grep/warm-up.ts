import type { Background, SearchSpec } from "./search.js";

/** Files each round of the warm-up searches, at most. */
export const WARM_FILES = 2000;
/**
 * Rounds of the warm-up, each a walk and a search of up to WARM_FILES files, each
 * going on in the tree where the one before stopped (warmUp). V8
 * optimizes a function once it has run enough (its bytecode times its calls): the
 * per-file path of a worker (read, the literal search, the line check) only after
 * ~14,000 files, more than one call of an 11,500-file tree gives a worker. Profiled
 * on the real binary, with one round of 2,000 files, most of V8's optimizing still ran
 * during the first call, on the same two cores as the search (~150 ms of CPU).
 * Measured on deps (CPU of the first call, err(or)?\s*= / a common literal): one
 * round 406-426 / 348-396 ms, three 271-282 / 219-271, six 247-261 / 195-210; a run
 * that never greps spends more CPU with each (bench/results.md); four chosen.
 */
export const WARM_ROUNDS = 4;
const MAX_BYTES = 64 * 1024;
const LARGE_BYTES = 1024 * 1024;
/**
 * What the warm-up searches with, a batch each in turn: each of the paths a call
 * takes in a worker, with patterns that do match (V8 compiles only the code that has
 * run: a branch first taken in a real call throws the optimized function away and
 * compiles it again, on the cores the search needs). A regex checked at its literal's
 * occurrences; a plain literal (the hit path, and the link count read for each hit);
 * a plain literal counted in the bytes and a regex counted line by line, both with
 * files up to 1 MB (a file larger than the read buffer, and lines over 64 KB checked
 * in part, take paths of their own); a case-insensitive literal (the WebAssembly
 * finder); a regex whose literal is not the rarest byte's start, with an optional
 * group; a regex without a literal (decoded whole). Other files over 64 KB are
 * skipped after one read: a real call must never wait long behind a warm-up batch.
 */
export const WARM_SPECS: readonly SearchSpec[] = [
  { pattern: "function\\s+\\w+\\s*\\(", caseInsensitive: false, multiline: false, mode: "files_with_matches", context: 0, maxBytes: MAX_BYTES },
  { pattern: "function", caseInsensitive: false, multiline: false, mode: "files_with_matches", context: 0, maxBytes: MAX_BYTES },
  { pattern: "return", caseInsensitive: false, multiline: false, mode: "count", context: 0, maxBytes: LARGE_BYTES },
  { pattern: "license", caseInsensitive: true, multiline: false, mode: "files_with_matches", context: 0, maxBytes: MAX_BYTES },
  { pattern: "require\\(['\"][^'\"]*['\"]\\)", caseInsensitive: false, multiline: false, mode: "count", context: 0, maxBytes: LARGE_BYTES },
  { pattern: "typeof\\s+(\\w+)\\s*===?\\s*['\"]undefined", caseInsensitive: false, multiline: false, mode: "files_with_matches", context: 0, maxBytes: MAX_BYTES },
  { pattern: "(export|module)s?\\.\\w+\\s*=", caseInsensitive: false, multiline: false, mode: "files_with_matches", context: 0, maxBytes: MAX_BYTES },
];

/**
 * A search nobody waits for, run while the first model request is in flight: the
 * first real Grep of a process otherwise pays for V8 compiling its hot path (open,
 * read, the literal search, the line check, in every worker; the walk and the
 * batching in the main thread) while it runs.
 *
 * `search` is grepFiles, run as a background search (search.ts: Background): the
 * main thread's code is then the very code a call runs, walked as a real call walks
 * (.gitignore, deny). `rounds` × `limit` files, `limit` a round, searched and
 * forgotten, each round going on where the one before stopped (and from the top
 * once the tree is done: a tree smaller than that is searched more than once); the
 * first round's batches wait in the threads' queues while they load.
 * Stopped by stop() (the first real call) or after its rounds; its batches are never
 * terminated (that would throw the compiled code away), the one in flight per worker
 * just finishes.
 */
export function warmUp(
  search: (background: Background, signal: AbortSignal) => Promise<{ background?: { searched: number; limited: boolean } } | void>,
  limit = WARM_FILES,
  rounds = WARM_ROUNDS,
): { stop(): void; done: Promise<void> } {
  const halt = new AbortController();
  const done = (async () => {
    // Each round goes on where the one before stopped, and from the top again once a
    // round reaches the tree's end: a whole tree's walk runs the main thread's
    // per-directory code and Node's file calls in the threads far more often than
    // the same first files again (V8 had optimized them only during a user's first call).
    let budget = rounds * limit;
    let skip = 0;
    for (let r = 0; r < 2 * rounds && budget > 0 && !halt.signal.aborted; r++) {
      // Each round starts the specs at another place, so every file meets every path.
      const specs = WARM_SPECS.map((_, i) => WARM_SPECS[(i + r) % WARM_SPECS.length]!);
      const found = (await search({ specs, limit: Math.min(limit, budget), skip }, halt.signal).catch(() => undefined))?.background;
      if (!found || (found.searched === 0 && skip === 0)) break; // nothing to search at all
      budget -= found.searched;
      skip = found.limited ? skip + found.searched : 0;
    }
  })();
  return {
    stop() {
      halt.abort();
    },
    /** Resolves when the warm-up has ended (its last batch back, or stopped). */
    done,
  };
}
