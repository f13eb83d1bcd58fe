import { stat } from "node:fs/promises";
import { z } from "zod";
import { globMatcher, type ScopedFs } from "./scoped-fs.js";
import { compileMatcher, fileMatches, FileReader, type Matcher } from "./grep-matcher.js";
import { capOutput, fail, ok } from "./text.js";
import type { Tool } from "./types.js";
import { walkFiles, type WalkedFile } from "./walk.js";

export const GREP_DEFAULT_HEAD_LIMIT = 250;
const SLICE_MS = 20;
const MAX_FILE_BYTES = 64 * 1024 * 1024;

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

export interface FileHit {
  rel: string;
  lines: string[];
  count: number;
}

/**
 * Grep: a regex over the files a developer would search (.gitignore and deny
 * honoured, binary files skipped), read in parallel. A literal pattern is first
 * looked for in the raw bytes, so files without it are never decoded.
 */
export function grepTool(fs: ScopedFs): Tool<GrepInput> {
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

      const hits = await grepFiles(fs, base, input, matcher, ctx.signal);
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
 */
export async function grepFiles(fs: ScopedFs, base: { abs: string; rel: string }, input: GrepInput, matcher: Matcher, signal: AbortSignal): Promise<FileHit[]> {
  const filter = fileFilter(input);
  const mode = input.output_mode ?? "files_with_matches";
  const reader = new FileReader();
  const search = (f: WalkedFile) => searchFile(reader, f, matcher, mode, input.context ?? 0);
  if ((await stat(base.abs)).isFile()) {
    const hit = search({ abs: base.abs, rel: base.rel });
    return hit ? [hit] : [];
  }
  const pending: WalkedFile[] = [];
  await walkFiles(fs, base.abs, (files) => {
    for (const f of files) if (filter(f.rel)) pending.push(f);
  }, signal);
  const hits: FileHit[] = [];
  // Synchronous reads are several times faster than readFile here; slices of
  // SLICE_MS keep the event loop (lock refresh, cancel) responsive.
  for (let i = 0; i < pending.length && !signal.aborted; ) {
    const until = performance.now() + SLICE_MS;
    for (; i < pending.length && performance.now() < until; i++) {
      const hit = search(pending[i]!);
      if (hit) hits.push(hit);
    }
    await new Promise((resolve) => setImmediate(resolve));
  }
  return hits.sort((a, b) => (a.rel < b.rel ? -1 : a.rel > b.rel ? 1 : 0));
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

function searchFile(reader: FileReader, f: WalkedFile, m: Matcher, mode: string, context: number): FileHit | undefined {
  const bytes = reader.read(f.abs, MAX_FILE_BYTES);
  if (!bytes || !fileMatches(bytes, m)) return undefined;
  if (mode === "files_with_matches") return { rel: f.rel, lines: [], count: 1 };
  const text = bytes.toString("utf8");
  const regex = m.regex;

  // Only matched files are split into lines.
  const all = text.split("\n");
  if (all.at(-1) === "") all.pop();
  const matched: number[] = [];
  const lineRegex = new RegExp(regex.source, regex.flags.replace("g", ""));
  for (let i = 0; i < all.length; i++) if (lineRegex.test(all[i]!)) matched.push(i);
  if (mode === "count") return { rel: f.rel, lines: [], count: matched.length };

  const out: string[] = [];
  const isMatch = new Set(matched);
  let lastShown = -1;
  for (const m of matched) {
    const from = Math.max(0, m - context, lastShown + 1);
    const to = Math.min(all.length - 1, m + context);
    if (context > 0 && lastShown >= 0 && from > lastShown + 1) out.push("--");
    for (let i = from; i <= to; i++) {
      const line = all[i]!.replace(/\r$/, "");
      out.push(`${f.rel}${isMatch.has(i) ? ":" : "-"}${i + 1}${isMatch.has(i) ? ":" : "-"}${line.length > 500 ? line.slice(0, 500) + "…" : line}`);
    }
    lastShown = Math.max(lastShown, to);
  }
  return { rel: f.rel, lines: out, count: matched.length };
}
