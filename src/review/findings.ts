import { closeSync, constants, fstatSync, openSync, readSync, realpathSync } from "node:fs";
import path from "node:path";
import { denialCache } from "../changes/snapshot.js";
import { ScopedFs } from "../tools/scoped-fs.js";

/** One finding of a review run (`--review`): docs/review.md. */
export interface Finding {
  /** Relative to the scope root, with forward slashes: "src/db.ts". */
  path: string;
  /** 1-based; the line must exist in the file. */
  line: number;
  /** Last line of the range (≥ line), when the finding spans several. */
  end_line?: number;
  severity: "error" | "warning" | "note";
  /** A short, stable id for the kind of problem ("sql-injection"): one SARIF rule each. */
  rule?: string;
  message: string;
}

/** The final answer of a review run: `run_end.output`. */
export interface Findings {
  summary: string;
  findings: Finding[];
}

/** The built-in findings schema, as the model's final_answer tool gets it (JSON Schema 2020-12). */
export const FINDINGS_SCHEMA = {
  type: "object",
  properties: {
    summary: { type: "string", minLength: 1, description: "What was reviewed and the overall verdict, in a few sentences." },
    findings: {
      type: "array",
      maxItems: 1000,
      description: "One entry per distinct problem; [] when there is none.",
      items: {
        type: "object",
        properties: {
          path: { type: "string", minLength: 1, description: 'The file, relative to the workspace root: "src/db.ts".' },
          line: { type: "integer", minimum: 1, description: "The (first) line the finding is about, 1-based." },
          end_line: { type: "integer", minimum: 1, description: "The last line, when the finding spans several." },
          severity: { enum: ["error", "warning", "note"], description: "error: must be fixed (a bug, a vulnerability); warning: likely a problem; note: a suggestion." },
          rule: { type: "string", minLength: 1, maxLength: 100, pattern: "^[A-Za-z0-9][A-Za-z0-9._/-]*$", description: 'A short stable id for the kind of problem ("sql-injection"), the same for the same kind.' },
          message: { type: "string", minLength: 1, description: "What is wrong and how to fix it." },
        },
        required: ["path", "line", "severity", "message"],
        additionalProperties: false,
      },
    },
  },
  required: ["summary", "findings"],
  additionalProperties: false,
} as const;

export const FINDINGS_TOOL_DESCRIPTION =
  "Give the review's result and end the run. Call this exactly once, when the review is done, with a summary and every finding: " +
  "each at a file (path relative to the workspace root) and a line that exist. If the answer is rejected, correct what it says and call again. " +
  "Do not also answer in plain text.";

/** Line counts are read whole up to this size; a finding in a larger file is checked against this many bytes' lines (the rest are taken on trust). */
const MAX_COUNTED_BYTES = 64 * 1024 * 1024;

/**
 * The scope's own test of a finding: its path names a regular file inside the scope
 * that no tool is refused (not denied, not the runtime directory, not .git), written
 * as a plain relative path, and its lines exist. A denied or missing file gets the
 * same answer, so a rejection never tells the model a denied file exists.
 */
export function findingsChecker(scope: { root: string; deny: string[]; hidden: string[] }): (value: unknown) => string | undefined {
  const fs = new ScopedFs({ root: scope.root, deny: scope.deny, hidden: scope.hidden, readOnly: [], writable: undefined });
  const denied = denialCache(fs);
  return (value) => {
    const { findings } = value as Findings;
    const lineCounts = new Map<string, number | undefined>();
    const problems: string[] = [];
    findings.forEach((f, i) => {
      const where = `findings[${i}]`;
      const canonical = path.posix.normalize(f.path);
      if (canonical !== f.path || f.path.endsWith("/") || f.path.startsWith("../") || f.path === ".." || path.posix.isAbsolute(f.path) || f.path.includes("\\")) {
        problems.push(`${where}: path ${JSON.stringify(f.path)} must be relative to the workspace root, without ./, .. or a trailing slash (like "src/app.ts")`);
        return;
      }
      if (!lineCounts.has(f.path)) lineCounts.set(f.path, denied(f.path) ? undefined : countLines(scope.root, f.path, denied));
      const lines = lineCounts.get(f.path);
      if (lines === undefined) {
        problems.push(`${where}: path ${JSON.stringify(f.path)} is not a file in the workspace`);
        return;
      }
      if (f.line > lines) problems.push(`${where}: line ${f.line} is past the end of ${f.path} (${lines} line${lines === 1 ? "" : "s"})`);
      if (f.end_line !== undefined) {
        if (f.end_line < f.line) problems.push(`${where}: end_line ${f.end_line} is before line ${f.line}`);
        else if (f.end_line > lines) problems.push(`${where}: end_line ${f.end_line} is past the end of ${f.path} (${lines} line${lines === 1 ? "" : "s"})`);
      }
    });
    if (problems.length === 0) return undefined;
    return problems.slice(0, 10).join("; ") + (problems.length > 10 ? `; and ${problems.length - 10} more` : "");
  };
}

/** Lines in the file (a last line without a newline counts), or undefined when it is not a readable regular file inside the scope. */
function countLines(root: string, rel: string, denied: (rel: string) => boolean): number | undefined {
  let real: string;
  try {
    real = realpathSync(path.join(root, rel));
  } catch {
    return undefined;
  }
  const back = path.relative(root, real);
  // Through a symlink: the file it leads to must be inside the scope and allowed too.
  if (back === "" || back.startsWith("..") || path.isAbsolute(back) || denied(back.split(path.sep).join("/"))) return undefined;
  let fd: number | undefined;
  try {
    fd = openSync(real, constants.O_RDONLY | constants.O_NONBLOCK | constants.O_NOFOLLOW);
    const st = fstatSync(fd);
    if (!st.isFile()) return undefined;
    const buf = Buffer.alloc(Math.min(1 << 20, Math.max(1, st.size)));
    let lines = 0;
    let last = 10;
    let read = 0;
    for (let n; read < MAX_COUNTED_BYTES && (n = readSync(fd, buf, 0, buf.length, null)) > 0; read += n) {
      for (let i = buf.indexOf(10); i >= 0 && i < n; i = buf.indexOf(10, i + 1)) lines++;
      last = buf[n - 1]!;
    }
    return lines + (read > 0 && last !== 10 ? 1 : 0);
  } catch {
    return undefined;
  } finally {
    if (fd !== undefined) closeSync(fd);
  }
}
