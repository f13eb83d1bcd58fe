import { fileMatches, FileReader, type Matcher } from "./grep-matcher.js";

/** Files larger than this are skipped, as generated or data files rather than source. */
export const MAX_FILE_BYTES = 64 * 1024 * 1024;

export type GrepMode = "content" | "files_with_matches" | "count";

export interface FileHit {
  rel: string;
  lines: string[];
  count: number;
}

/** A slice of the walk, as sent to a search worker: parallel arrays keep the message small. */
export interface FileBatch {
  abs: string[];
  rel: string[];
}

/** What every file of one Grep call is searched with; plain data, so it can cross to a worker. */
export interface SearchSpec {
  pattern: string;
  caseInsensitive: boolean;
  mode: GrepMode;
  context: number;
}

/**
 * Searches one batch synchronously, in the order given: a worker thread's job. The
 * Grep tool's own thread calls searchFile in time slices instead, to stay responsive.
 */
export function searchBatch(reader: FileReader, batch: FileBatch, m: Matcher, spec: SearchSpec): FileHit[] {
  const hits: FileHit[] = [];
  for (let i = 0; i < batch.abs.length; i++) {
    const hit = searchFile(reader, batch.abs[i]!, batch.rel[i]!, m, spec);
    if (hit) hits.push(hit);
  }
  return hits;
}

export function searchFile(reader: FileReader, abs: string, rel: string, m: Matcher, spec: SearchSpec): FileHit | undefined {
  const bytes = reader.read(abs, MAX_FILE_BYTES);
  if (!bytes || !fileMatches(bytes, m)) return undefined;
  if (spec.mode === "files_with_matches") return { rel, lines: [], count: 1 };
  const text = bytes.toString("utf8");

  // Only matched files are split into lines.
  const all = text.split("\n");
  if (all.at(-1) === "") all.pop();
  const matched: number[] = [];
  const lineRegex = new RegExp(m.regex.source, m.regex.flags.replace("g", ""));
  for (let i = 0; i < all.length; i++) if (lineRegex.test(all[i]!)) matched.push(i);
  if (spec.mode === "count") return { rel, lines: [], count: matched.length };

  const out: string[] = [];
  const isMatch = new Set(matched);
  const context = spec.context;
  let lastShown = -1;
  for (const n of matched) {
    const from = Math.max(0, n - context, lastShown + 1);
    const to = Math.min(all.length - 1, n + context);
    if (context > 0 && lastShown >= 0 && from > lastShown + 1) out.push("--");
    for (let i = from; i <= to; i++) {
      const line = all[i]!.replace(/\r$/, "");
      const sep = isMatch.has(i) ? ":" : "-";
      out.push(`${rel}${sep}${i + 1}${sep}${line.length > 500 ? line.slice(0, 500) + "…" : line}`);
    }
    lastShown = Math.max(lastShown, to);
  }
  return { rel, lines: out, count: matched.length };
}
