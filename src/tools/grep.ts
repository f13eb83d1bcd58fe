import { stat } from "node:fs/promises";
import { z } from "zod";
import { globMatcher, type ScopedFs } from "./scoped-fs.js";
import { compileMatcher, FileReader, type Matcher } from "./grep-matcher.js";
import { GrepPool } from "./grep-pool.js";
import { searchFile, type FileBatch, type FileHit, type SearchSpec } from "./grep-search.js";
import { capOutput, fail, ok } from "./text.js";
import type { Tool } from "./types.js";
import { walkFiles } from "./walk.js";

export const GREP_DEFAULT_HEAD_LIMIT = 250;
const SLICE_MS = 20;
/** Below this many files, starting worker threads (~30 ms) costs more than they save. */
const POOL_MIN_FILES = 2000;
/** Files per worker message: big enough to amortise the message, small enough to balance and to stop soon on cancel. */
const BATCH_FILES = 256;

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
  pattern: z.string().min(1).describe("Regular expression (JavaScript syntax) to search for"),
  path: z.string().optional().describe("File or directory to search, relative to the workspace root. Default: the root"),
  glob: z.string().optional().describe('Only search files matching this glob, e.g. "*.ts" or "src/**/*.js"'),
  type: z.string().optional().describe(`Only search files of this type: ${Object.keys(FILE_TYPES).join(", ")}`),
  case_insensitive: z.boolean().optional().describe("Match case-insensitively"),
  context: z.number().int().min(0).max(20).optional().describe("Lines of context around each match (content mode)"),
  output_mode: z.enum(["content", "files_with_matches", "count"]).optional().describe('"files_with_matches" (default): paths; "content": matching lines as path:line:text; "count": path:count'),
  head_limit: z.number().int().positive().optional().describe(`At most this many output lines/files. Default ${GREP_DEFAULT_HEAD_LIMIT}`),
});
export type GrepInput = z.infer<typeof Input>;

/**
 * Grep: a regex over the files a developer would search (.gitignore and deny
 * honoured, binary files skipped), read in parallel. A literal pattern is first
 * looked for in the raw bytes, so files without it are never decoded.
 */
export function grepTool(fs: ScopedFs): Tool<GrepInput> {
  // One pool per toolbox (so per process), started by the first large search.
  let pool: GrepPool | undefined | null = null;
  const getPool = (start: boolean) => (pool === null ? (start ? (pool = GrepPool.start(warnBroken)) : undefined) : pool);
  return {
    name: "Grep",
    description: "Search file contents with a regular expression (JavaScript syntax). Respects .gitignore; skips binary files. output_mode: files_with_matches (default), content (path:line:text, with optional context lines), count.",
    inputSchema: Input,
    async run(input, ctx) {
      const base = await fs.resolve(input.path ?? ".", "read");
      if (!base.ok) return fail(base.message);
      if (!base.exists) return fail(`${input.path} does not exist.`);
      const matcher = compileMatcher(input.pattern, input.case_insensitive ?? false);
      if ("error" in matcher) return fail(`Invalid regular expression: ${matcher.error}`);
      if (input.type && !FILE_TYPES[input.type]) return fail(`Unknown type "${input.type}". Known types: ${Object.keys(FILE_TYPES).join(", ")}.`);
      const mode = input.output_mode ?? "files_with_matches";

      // A hardlink to a denied file is another name for it: its matches are not shown.
      const hits = await fs.withoutLinkedDenied(await grepFiles(fs, base, input, matcher, ctx.signal, getPool), ctx.signal);
      if (hits.length === 0) return ok(`No matches for ${input.pattern}.`);
      const limit = input.head_limit ?? GREP_DEFAULT_HEAD_LIMIT;
      let lines: string[];
      if (mode === "files_with_matches") lines = hits.map((h) => h.rel);
      else if (mode === "count") lines = hits.map((h) => `${h.rel}:${h.count}`);
      else lines = hits.flatMap((h) => h.lines);
      const shown = lines.slice(0, limit);
      let text = shown.join("\n");
      if (lines.length > limit) text += `\n[truncated: ${lines.length} results, showing the first ${limit}; narrow the pattern, path or glob, or raise head_limit]`;
      const capped = capOutput(text);
      return { ...capped, truncated: capped.truncated || lines.length > limit };
    },
  };
}

/**
 * The search itself, without output formatting or caps: every matching file under
 * `base` (a resolved path), sorted by path. The benchmark compares this with ripgrep.
 *
 * Small trees are searched in this thread once the walk is done. Once a walk passes
 * POOL_MIN_FILES, batches go to worker threads as the walk finds them, so reading
 * overlaps walking and uses every core; if the pool fails, the rest is searched here.
 */
export async function grepFiles(
  fs: ScopedFs,
  base: { abs: string; rel: string },
  input: GrepInput,
  matcher: Matcher,
  signal: AbortSignal,
  /** The worker pool, if there is one; `start` says whether to start it if not. */
  pool?: (start: boolean) => GrepPool | undefined,
): Promise<FileHit[]> {
  const filter = fileFilter(input);
  const spec: SearchSpec = { pattern: input.pattern, caseInsensitive: input.case_insensitive ?? false, mode: input.output_mode ?? "files_with_matches", context: input.context ?? 0 };
  const reader = new FileReader();
  if ((await stat(base.abs)).isFile()) {
    const hit = searchFile(reader, base.abs, base.rel, matcher, spec);
    return hit ? [hit] : [];
  }

  const hits: FileHit[] = [];
  // Batches searched in this thread: all of a small tree, or any a worker failed.
  const here: FileBatch[] = [];
  const sent: Array<Promise<void>> = [];
  let workers: GrepPool | undefined;
  let walked = 0;
  let batch: FileBatch = { abs: [], rel: [] };
  const dispatch = (b: FileBatch) => {
    sent.push(
      workers!.search(spec, b).then(
        (found) => {
          for (const h of found) hits.push(h);
        },
        () => void here.push(b),
      ),
    );
  };
  await walkFiles(fs, base.abs, (files) => {
    walked += files.length;
    for (const f of files) {
      if (!filter(f.rel)) continue;
      batch.abs.push(f.abs);
      batch.rel.push(f.rel);
    }
    // A pool that is already running is used from the first file; one is started
    // only for a tree big enough to repay its start-up.
    workers ??= pool?.(walked >= POOL_MIN_FILES);
    if (workers && batch.abs.length >= BATCH_FILES) {
      let i = 0;
      for (; batch.abs.length - i >= BATCH_FILES; i += BATCH_FILES) {
        dispatch({ abs: batch.abs.slice(i, i + BATCH_FILES), rel: batch.rel.slice(i, i + BATCH_FILES) });
      }
      batch = { abs: batch.abs.slice(i), rel: batch.rel.slice(i) };
    }
  }, signal);
  if (batch.abs.length) {
    if (workers) dispatch(batch);
    else here.push(batch);
  }
  await Promise.all(sent);

  // Synchronous reads are several times faster than readFile here; slices of
  // SLICE_MS keep the event loop (lock refresh, cancel) responsive.
  for (const b of here) {
    for (let i = 0; i < b.abs.length && !signal.aborted; ) {
      const until = performance.now() + SLICE_MS;
      for (; i < b.abs.length && performance.now() < until; i++) {
        const hit = searchFile(reader, b.abs[i]!, b.rel[i]!, matcher, spec);
        if (hit) hits.push(hit);
      }
      await new Promise((resolve) => setImmediate(resolve));
    }
  }
  return hits.sort((a, b) => (a.rel < b.rel ? -1 : a.rel > b.rel ? 1 : 0));
}

function warnBroken(err: Error): void {
  process.stderr.write(`pod: Grep's worker threads failed (${err.message}); searching in one thread from now on\n`);
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
