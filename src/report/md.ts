// Putting text that is not ours into markdown so that it stays text (SPEC "People's output is
// inert"): the prompt, the answer, tool inputs, paths and error messages come from the model,
// a tool or a file, and the report is read in `$GITHUB_STEP_SUMMARY` (rendered as GitHub
// markdown, which allows some HTML), in a CI log (where a `::command::` line runs) and in a
// terminal (where an escape sequence drives it). So every such text is first made inert
// (src/events/inert.ts: no terminal controls, no workflow commands) and then goes only into
// - a fenced code block whose fence is longer than any backtick run inside (it cannot be
//   closed early; its content renders as text: no HTML, links, images or headings), or
// - an inline code span, on one line, delimited by more backticks than any run inside; in a
//   table cell `|` is escaped (GFM splits cells on it even inside a code span).
// Inside code, `<`, `>` and `&` are text (no entity is decoded there, no tag parsed).
// Pure; imports only inert.ts.
import { inertText } from "../events/inert.js";

/** Cuts `text` to at most `max` characters (code points, never half a surrogate pair), marking the cut. */
export function cut(text: string, max: number, mark = "…"): string {
  if (text.length <= max) return text;
  const chars = Array.from(text);
  return chars.length <= max ? text : chars.slice(0, Math.max(0, max - 1)).join("") + mark;
}

const longestRun = (text: string) => Math.max(0, ...[...text.matchAll(/`+/g)].map((m) => m[0].length));

/** A fenced code block `text` cannot close; `lang` is ours (letters only). */
export function fenced(text: string, lang = ""): string {
  const clean = inertText(text);
  const fence = "`".repeat(Math.max(3, longestRun(clean) + 1));
  return `${fence}${lang.replace(/[^a-z]/g, "")}\n${clean.endsWith("\n") ? clean : `${clean}\n`}${fence}`;
}

/** An inline code span on one line that `text` cannot close; `cell`: it sits in a table cell. */
export function code(text: string, opts: { max?: number; cell?: boolean } = {}): string {
  let clean = cut(inertText(text).replace(/\s+/g, " ").trim(), opts.max ?? 200);
  if (clean === "") return "—";
  const tick = "`".repeat(longestRun(clean) + 1);
  // A span that starts or ends with a backtick needs a space to keep it apart from the delimiter (CommonMark strips one each side).
  const pad = clean.startsWith("`") || clean.endsWith("`") ? " " : "";
  if (opts.cell) clean = clean.replace(/\|/g, "\\|");
  return `${tick}${pad}${clean}${pad}${tick}`;
}
