// Grep: the tool, and the engine behind it (ripgrep's semantics, near ripgrep's speed).
//
// The parts, from the tool down (each may import only the parts below it, and
// nothing outside src/tools/ but node: built-ins and zod; code outside this folder imports
// index.ts alone, tests and the bench excepted):
//
//   index.ts      the Grep tool and grepFiles: walks the scope (../walk.ts), filters by
//                 glob/type, deals batches of files to the pool, gathers and formats hits.
//                 Main thread: compiles the pattern to check it, never runs it.
//   warm-up.ts    the search nobody waits for, run while the first model request is in
//                 flight, so that V8 has compiled the hot path before the first call.
//   pool.ts       the worker threads, the per-call deadline and cancel (a stopped call's
//                 threads are terminated mid-regex and replaced).
//   worker.ts     one thread's entry: receives batches, answers with their hits.
//   search.ts     one batch, one file, synchronously: the output modes (files, count,
//                 content with context lines).
//   matcher.ts    a pattern compiled into what search.ts needs (Matcher), the reusable
//                 file reader, the byte-level prefilters and line counting.
//   literal.ts    the literal every match contains, and the check at its occurrences.
//   reach.ts      how far a match can reach from that literal (long lines decoded in part).
//   syntax.ts     the one tokenizer every reader of a pattern goes through, and
//                 ripgrep's line semantics as a JavaScript regex source.
//   finder.ts     the literal finder (exact or any case), WebAssembly SIMD (wasm/), and the
//                 memory files are read into, so it searches them where they lie.
//   byte-ranks.ts how rare each byte is in source code (generated: scripts/byte-ranks.mjs).
//   wasm/         finder.wat and its assembled bytes (generated: scripts/build-wasm.mjs).
//
// Built, worker.ts is its own bundle (dist/grep-worker.cjs, scripts/build.mjs).
import { stat } from "node:fs/promises";
import { z } from "zod";
import { isGitConfigPath } from "../../policy/git-credentials.js";
import { pathRefused } from "../denial.js";
import { globMatcher, type ScopedFs } from "../scoped-fs.js";
import { compileMatcher } from "./matcher.js";
import { GrepPool, SearchStopped } from "./pool.js";
import { MAX_FILE_BYTES, type Background, type FileBatch, type FileHit, type SearchSpec } from "./search.js";
import { capOutput, fail, ok } from "../text.js";
import type { Tool } from "../types.js";
import { walkFiles } from "../walk.js";
import { warmUp } from "./warm-up.js";
import { toolIdentity } from "../registry.js";

export const GREP_DEFAULT_HEAD_LIMIT = 250;
/**
 * The hard limit on one Grep call. ripgrep searches a few hundred MB of source in
 * about a second on this machine and pod keeps within 1.25× of it, so a search
 * still running after 10 s is a pathological pattern, not a big tree.
 */
export const GREP_DEADLINE_MS = 10_000;
/** Longer patterns are refused: no real search needs one, and V8 compiles what it is given. */
const MAX_PATTERN_CHARS = 4096;
/** Files per worker message: big enough to amortise the message, small enough to balance and to stop soon on cancel. */
const BATCH_FILES = 128;
const WARM_BATCH_FILES = 32;

/** File types for `type`, as in ripgrep's --type. */
export const FILE_TYPES: Record<string, string[]> = {
  js: ["js", "mjs", "cjs", "jsx"],
  ts: ["ts", "tsx", "mts", "cts"],
  py: ["py", "pyi"],
  rust: ["rs"],
  go: ["go"],
  java: ["java"],
  c: ["c", "h"],
  cpp: ["cpp", "cc", "cxx", "hpp", "hh", "h"],
  rb: ["rb"],
  md: ["md", "markdown"],
  json: ["json"],
  yaml: ["yaml", "yml"],
  toml: ["toml"],
  sh: ["sh", "bash"],
  css: ["css", "scss"],
  html: ["html", "htm"],
};

const Input = z.object({
  pattern: z.string().min(1).max(MAX_PATTERN_CHARS).describe("Regular expression (JavaScript syntax) to search for. Line-oriented, as ripgrep: no match spans a newline unless multiline is set"),
  path: z.string().optional().describe("File or directory to search, relative to the workspace root. Default: the root"),
  glob: z.string().optional().describe('Only search files matching this glob, e.g. "*.ts" or "src/**/*.js"'),
  type: z.string().optional().describe(`Only search files of this type: ${Object.keys(FILE_TYPES).join(", ")}`),
  case_insensitive: z.boolean().optional().describe("Match case-insensitively"),
  multiline: z.boolean().optional().describe("Let matches span lines (as rg -U): \\s and [^x] then match newlines, and \\n may be used. Default false"),
  context: z.number().int().min(0).max(20).optional().describe("Lines of context around each match (content mode)"),
  output_mode: z.enum(["content", "files_with_matches", "count"]).optional().describe('"files_with_matches" (default): paths; "content": matching lines as path:line:text; "count": path:count'),
  head_limit: z.number().int().positive().optional().describe(`At most this many output lines/files. Default ${GREP_DEFAULT_HEAD_LIMIT}`),
});
export type GrepInput = z.infer<typeof Input>;

export interface GrepOptions {
  /** The hard limit on one Grep call; past it the call returns what it found so far. */
  deadlineMs?: number;
}

/**
 * Grep: a regex over the files a developer would search (.gitignore and deny
 * honoured, binary files skipped), with ripgrep's line semantics. The regex runs only
 * in worker threads (pool.ts) under a hard deadline, so no pattern can stall
 * pod's event loop; a literal the pattern requires is looked for in the raw bytes
 * first, so files without it are never decoded.
 */
export function grepTool(fs: ScopedFs, options: GrepOptions = {}): Tool<GrepInput> {
  const deadlineMs = options.deadlineMs ?? GREP_DEADLINE_MS;
  // One pool per toolbox (so per process), started by prepare() at the run's start
  // or else by the first search.
  let pool: GrepPool | undefined;
  let warming: { stop(): void } | undefined;
  let released = false;
  return {
    ...toolIdentity("Grep"),
    prepare() {
      if (released) return;
      pool ??= GrepPool.start(warnBroken);
      const started = pool;
      // The warm-up runs the very code a call runs (grepFiles), so V8 has compiled that too.
      warming ??= warmUp((background, signal) => grepFiles(fs, { abs: fs.root, rel: "" }, { pattern: "-" }, started, signal, GREP_DEADLINE_MS, background));
    },
    release() {
      released = true;
      warming?.stop();
      void pool?.close();
    },
    description: `Search file contents with a regular expression (JavaScript syntax), line by line as ripgrep does (multiline: true lets a match span lines). Respects .gitignore; skips binary files. output_mode: files_with_matches (default), content (path:line:text, with optional context lines), count. A search stops after ${deadlineMs / 1000} s and returns what it found.`,
    inputSchema: Input,
    async run(input, ctx) {
      const base = await fs.resolve(input.path ?? ".", "read");
      if (!base.ok) return pathRefused(base);
      if (!base.exists) return fail(`${input.path} does not exist.`);
      const matcher = compileMatcher(input.pattern, input.case_insensitive ?? false, input.multiline ?? false);
      if ("error" in matcher) return fail(`Invalid regular expression: ${matcher.error}`);
      if (input.type && !FILE_TYPES[input.type]) return fail(`Unknown type "${input.type}". Known types: ${Object.keys(FILE_TYPES).join(", ")}.`);
      const mode = input.output_mode ?? "files_with_matches";

      pool ??= GrepPool.start(warnBroken);
      warming?.stop();
      const found = await grepFiles(fs, base, input, pool, ctx.signal, deadlineMs);
      if (found.stopped === "cancelled") return fail(`Grep cancelled after ${(found.ms / 1000).toFixed(1)} s.`);
      const notes: string[] = [];
      if (found.stopped === "deadline") notes.push(`[search stopped after ${(deadlineMs / 1000).toFixed(0)} s: the pattern is too expensive (or the tree too large); these results are partial. Simplify the pattern (avoid nested quantifiers such as (a+)+) or narrow path/glob]`);
      if (found.unsearched > 0) notes.push(`[${found.unsearched} files could not be searched: ${found.failure}]`);
      // A hardlink to a denied file is another name for it: its matches are not shown. Nor are
      // git's config files' (credentials: a match or a miss would spell a token), whatever they hold.
      // The workers read each hit's link count; only hits with more than one link (or
      // none read) are checked here.
      const hits = (await withoutLinkedDenied(fs, found.hits, ctx.signal)).filter((h) => !isGitConfigPath(h.rel));
      if (base.rel.split("/").includes(".git")) notes.push("[git's config files are never searched (they may hold credentials); Read shows them with the credentials redacted]");
      if (hits.length === 0) return ok([`No matches for ${input.pattern}.`, ...notes].join("\n"));
      const limit = input.head_limit ?? GREP_DEFAULT_HEAD_LIMIT;
      let lines: string[];
      if (mode === "files_with_matches") lines = hits.map((h) => h.rel);
      else if (mode === "count") lines = hits.map((h) => `${h.rel}:${h.count}`);
      else lines = hits.flatMap((h) => h.lines);
      const shown = lines.slice(0, limit);
      let text = shown.join("\n");
      if (lines.length > limit) text += `\n[truncated: ${lines.length} results, showing the first ${limit}; narrow the pattern, path or glob, or raise head_limit]`;
      const capped = capOutput(text);
      const withNotes = notes.length ? `${capped.output}\n${notes.join("\n")}` : capped.output;
      return { ...capped, output: withNotes, truncated: capped.truncated || lines.length > limit || found.stopped === "deadline" };
    },
  };
}

export interface GrepFound {
  /** Matching files, sorted by path. */
  hits: FileHit[];
  /** Why the search ended early, if it did: what it found until then is in `hits`. */
  stopped?: "deadline" | "cancelled";
  /** Files not searched because a worker failed (not stopped), and why. */
  unsearched: number;
  failure?: string;
  ms: number;
  /** A background search's files sent to the threads, and whether it stopped at its limit (the tree holds more past them). */
  background?: { searched: number; limited: boolean };
}

/**
 * The search itself, without output formatting or caps: every matching file under
 * `base` (a resolved path). The benchmark compares this with ripgrep.
 *
 * Batches go to the worker threads as the walk finds them, so reading overlaps
 * walking and uses every core. At the deadline or on cancel the walk stops and the
 * call's workers are terminated mid-batch; the hits already back are returned.
 */
export async function grepFiles(fs: ScopedFs, base: { abs: string; rel: string }, input: GrepInput, pool: GrepPool, signal: AbortSignal, deadlineMs = GREP_DEADLINE_MS, background?: Background): Promise<GrepFound> {
  const started = performance.now();
  const filter = fileFilter(input);
  const inputSpec: SearchSpec = { pattern: input.pattern, caseInsensitive: input.case_insensitive ?? false, multiline: input.multiline ?? false, mode: input.output_mode ?? "files_with_matches", context: input.context ?? 0, maxBytes: MAX_FILE_BYTES };
  const specs = background?.specs ?? [inputSpec];
  let sent = 0;
  // A small integer either way: a double here (Infinity) made V8 deoptimize the walk's callback.
  let left = background?.limit ?? 0x3fffffff;
  let skip = background?.skip ?? 0;
  // A background search keeps one small batch per worker, so a real call waits behind little (~1 ms).
  const perWorker = background ? 1 : 2;
  const batchFiles = background ? WARM_BATCH_FILES : BATCH_FILES;
  const search = pool.begin();
  const hits = emptyList<FileHit>();
  let unsearched = 0;
  let failure: string | undefined;
  let stopped: GrepFound["stopped"];

  // One controller ends the walk and the batches, whichever comes first. `ended` is its
  // state as a plain flag: read in the loop, an AbortSignal's changing hidden class
  // deoptimized this code in each of a run's first calls.
  const halt = new AbortController();
  let ended = false;
  const end = () => {
    ended = true;
    halt.abort();
  };
  let wake: () => void = () => {};
  const halted = new Promise<void>((resolve) => (wake = resolve));
  const stop = (why: "deadline" | "cancelled") => {
    // (A background search's walk may have ended at its limit: it is stopped all the same.)
    if (stopped) return;
    stopped = why;
    end();
    // A background search is never terminated (that would throw away what V8 compiled):
    // it sends nothing more, and the batches in flight just finish.
    if (background) {
      waiting.length = 0;
      if (inFlight === 0) allDone();
      return;
    }
    pool.stop(search);
    wake();
  };
  const onCancel = () => stop("cancelled");
  signal.addEventListener("abort", onCancel, { once: true });
  if (signal.aborted) onCancel();
  // The deadline is for the search: it starts once the threads are up. The walk does
  // not wait for them: the first batches wait in the threads' queues while they load.
  let timer: NodeJS.Timeout | undefined;
  let finished = false;
  // (A background search has no deadline, and must not hold the process open waiting for the threads.)
  if (!background)
    void Promise.race([pool.ready(), halted]).then(() => {
      if (!finished && !ended) timer = setTimeout(() => stop("deadline"), deadlineMs);
    });

  // Batches wait here until a worker has room: each worker holds at most two (one
  // searched, one ready), so a worker that drew a batch of big files does not keep
  // the rest of the tree queued behind it while the other idles.
  const waiting = emptyList<FileBatch>();
  let inFlight = 0;
  let walked = false;
  let allDone: () => void = () => {};
  const done = new Promise<void>((resolve) => (allDone = resolve));
  const settleOne = () => {
    inFlight--;
    pump();
  };
  const pump = () => {
    // A directory the walk was reading when the call stopped must not start new work.
    if (ended && !(background && !stopped)) {
      if (background && inFlight === 0) allDone();
      return;
    }
    while (inFlight < perWorker * pool.size && waiting.length > 0) {
      const b = waiting.shift()!;
      inFlight++;
      const spec = specs[sent++ % specs.length]!;
      pool.search(spec, b, search, !background).then(
        (found) => {
          for (const h of found) hits.push(h);
          settleOne();
        },
        (err: Error) => {
          if (err instanceof SearchStopped) {
            // Files found before the stop come without their lines: say so in content mode.
            for (const h of err.found) hits.push(spec.mode === "content" ? { ...h, lines: [`${h.rel}: matches (lines not collected before the search stopped)`] } : h);
          } else {
            unsearched += b.rel.length;
            failure ??= err.message;
          }
          settleOne();
        },
      );
    }
    if (walked && inFlight === 0 && waiting.length === 0) allDone();
  };
  const dispatch = (b: FileBatch) => {
    waiting.push(b);
    pump();
  };
  // Paths relative to the working directory when that is the scope root (pod run from
  // the repository's root, the usual case): each open then resolves the file's few
  // path components from the cwd, not the root's whole depth again (open and close
  // of 11,500 files 7 levels deep: ~20% less CPU). pod never changes its cwd.
  const local = process.cwd() === fs.root;
  const rootPrefix = `${fs.root}/`;
  const shorten = (prefix: string) => (local && prefix === rootPrefix ? "" : prefix);
  try {
    if ((await stat(base.abs)).isFile()) dispatch({ prefix: shorten(base.abs.slice(0, base.abs.length - base.rel.length)), rel: [base.rel] });
    else {
      let batch: FileBatch = { prefix: "", rel: emptyList<string>() };
      const walk = walkFiles(
        fs,
        base.abs,
        (files) => {
          // The walk builds both paths from the same names: abs ends with rel, so one
          // directory's files share a prefix (slicing each file's path flattened it: a copy per file).
          const first = files[0]!;
          const prefix = shorten(first.abs.slice(0, first.abs.length - first.rel.length));
          for (const f of files) {
            if (!filter(f.rel)) continue;
            if (skip > 0) {
              skip--; // a background search's files before its place in the tree: walked, not searched
              continue;
            }
            if (left-- <= 0) {
              end(); // a background search's limit: the walk ends, what was found is searched
              break;
            }
            if (prefix !== batch.prefix || batch.rel.length === batchFiles) {
              if (batch.rel.length) dispatch(batch);
              batch = { prefix, rel: emptyList<string>() };
            }
            batch.rel.push(f.rel);
          }
        },
        halt.signal,
      );
      walk.catch(() => {}); // awaited below, unless the call is stopped first
      await Promise.race([walk, halted]);
      // The last files, split so that every worker gets a share.
      const share = Math.max(1, Math.ceil(batch.rel.length / pool.size));
      for (let i = 0; i < batch.rel.length; i += share) dispatch({ prefix: batch.prefix, rel: batch.rel.slice(i, i + share) });
    }
    walked = true;
    pump();
    await Promise.race([done, halted]);
  } finally {
    finished = true;
    clearTimeout(timer);
    signal.removeEventListener("abort", onCancel);
  }
  hits.sort((a, b) => (a.rel < b.rel ? -1 : a.rel > b.rel ? 1 : 0));
  return { hits, ...(stopped ? { stopped } : {}), unsearched, ...(failure ? { failure } : {}), ms: performance.now() - started, ...(background ? { background: { searched: background.limit - Math.max(left, 0), limited: left < 0 } } : {}) };
}

/**
 * An empty array that V8 already stores as "any values": an empty literal starts as
 * small integers only, and optimized code that pushed the first batch, path or hit
 * onto one deoptimized ("not a Smi") in a run's first calls, recompiling grepFiles's
 * callbacks (up to ~40 ms of V8's compiler, on the cores the search needs).
 */
function emptyList<T>(): T[] {
  const list: T[] = [undefined as T];
  list.pop();
  return list;
}

async function withoutLinkedDenied(fs: ScopedFs, hits: FileHit[], signal: AbortSignal): Promise<FileHit[]> {
  const linked = hits.filter((h) => h.links !== 1);
  if (linked.length === 0) return hits;
  const cleared = new Set(await fs.withoutLinkedDenied(linked, signal));
  return hits.filter((h) => h.links === 1 || cleared.has(h));
}

function warnBroken(err: Error): void {
  process.stderr.write(`pod: a Grep worker thread failed (${err.message}); it is replaced, and the files it held are reported as not searched\n`);
}
function fileFilter(input: GrepInput): (rel: string) => boolean {
  const globMatch = input.glob ? globMatcher([input.glob]) : undefined;
  const exts = input.type ? new Set(FILE_TYPES[input.type]) : undefined;
  return (rel) => {
    if (globMatch && !globMatch(rel)) return false;
    if (exts) {
      const dot = rel.lastIndexOf(".");
      if (dot === -1 || !exts.has(rel.slice(dot + 1))) return false;
    }
    return true;
  };
}
