import { structuredPatch } from "diff";
import path from "node:path";
import { deflateSync } from "node:zlib";
import type { ScopeChanges, FileChange } from "./compare.js";
import { gitMode } from "./compare.js";
import { blobId, ObjectStore } from "./git-objects.js";
import { entryOid, readContent, type ScopeSnapshot } from "./snapshot.js";

/**
 * The run's changes as a git patch (`git diff --binary --full-index` style) that
 * `git apply` applies to the scope as it was before the run, from the scope root:
 * - text files as unified diffs, 3 lines of context; hunks by jsdiff (the `diff`
 *   package) on the bytes read as latin1, so any encoding and CRLF survive exactly;
 * - binary files (a NUL in the first 8,000 bytes of either side, git's test) as git
 *   binary patches: zlib-deflated, base85, forward and reverse literals;
 * - modes kept (new file mode, old mode/new mode, 100644/100755); symlinks as git
 *   stores them (mode 120000, the target as content); a file that became a symlink
 *   (or back) as a deletion and an addition;
 * - paths quoted as git quotes them (core.quotePath): control characters, `"`, `\`
 *   and bytes past ASCII as C escapes.
 * The content before the run comes from git's object store (a clean tracked file) or
 * from the bytes kept at start; a file without either cannot be diffed and is listed in
 * `missing`, as is one whose end content cannot be read, or that is a hardlink of a
 * file the model may not read.
 */
export interface Patch {
  data: Buffer;
  /** A diffstat line per file, in the patch's order (a change of type counts once). */
  stats: FileStats[];
  /** Files the patch cannot carry, with the reason: a patch with any is incomplete. */
  missing: Array<{ path: string; reason: string }>;
  /**
   * The content of the files the patch carries as binary literals (deflated, base85): a
   * search of `data` does not see what they hold, so a check for secrets looks here too.
   */
  encoded: Array<{ path: string; content: Buffer[] }>;
}

export interface FileStats {
  path: string;
  change: FileChange["change"];
  /** Lines added and removed; null for a binary file. */
  added: number | null;
  removed: number | null;
  binary: boolean;
}

/** A hunk's diff is given up on after this long: the file is then one hunk that replaces it whole (still exact). */
const DIFF_TIMEOUT_MS = 2000;
const CONTEXT = 3;
const BINARY_PROBE = 8000;
const ZERO_OID = "0".repeat(40);

export type LinkCheck = (abs: string) => Promise<boolean>;

/**
 * Builds the patch. `readable(abs)` says whether a file's end content may go into
 * it (false for a hardlink of a denied file: ScopedFs.checkLinks decides).
 */
export async function buildPatch(snap: ScopeSnapshot, changes: ScopeChanges, readable: LinkCheck): Promise<Patch> {
  const store = snap.git ? new ObjectStore(snap.git.repo.objectsDir) : undefined;
  const parts: Buffer[] = [];
  const stats: FileStats[] = [];
  const missing: Patch["missing"] = [];
  const encoded: Patch["encoded"] = [];
  try {
    for (const c of changes.files) {
      const abs = path.join(snap.root, c.path);
      let before: Side | undefined;
      let after: Side | undefined;
      if (c.before) {
        const oid = entryOid(snap, c.before);
        const bytes = c.before.bytes ?? (oid && store ? store.readBlob(oid) : undefined);
        if (!bytes) {
          const reason =
            c.before.stat.nlink > 1
              ? "it has other names (hardlinks), so its content before the run was not kept"
              : snap.git
                ? "its content before the run is not in git's object store and was not kept"
                : "its content before the run was not kept (past the read budget, outside git)";
          missing.push({ path: c.path, reason });
          continue;
        }
        before = { bytes, mode: gitMode(c.before.stat), oid: oid ?? blobId(bytes) };
      }
      if (c.after) {
        const bytes = (await readable(abs)) ? readContent(abs, c.after.kind) : undefined;
        if (!bytes) {
          missing.push({ path: c.path, reason: "its content now cannot be read, or it is a second name (hardlink) of a file the model may not read" });
          continue;
        }
        after = { bytes, mode: gitMode(c.after), oid: blobId(bytes) };
      }
      const typeChanged = before && after && (before.mode === 0o120000) !== (after.mode === 0o120000);
      if (typeChanged) {
        const del = fileDiff(c.path, before, undefined);
        const add = fileDiff(c.path, undefined, after);
        parts.push(del.data, add.data);
        stats.push({ path: c.path, change: c.change, binary: del.binary || add.binary, added: add.added, removed: del.removed });
      } else {
        const d = fileDiff(c.path, before, after);
        parts.push(d.data);
        stats.push({ path: c.path, change: c.change, binary: d.binary, added: d.added, removed: d.removed });
      }
      if (stats.at(-1)!.binary) encoded.push({ path: c.path, content: [before?.bytes, after?.bytes].filter((b): b is Buffer => b !== undefined) });
    }
  } finally {
    store?.close();
  }
  return { data: Buffer.concat(parts), stats, missing, encoded };
}

interface Side {
  bytes: Buffer;
  mode: number;
  oid: string;
}

interface FileDiff {
  data: Buffer;
  binary: boolean;
  added: number | null;
  removed: number | null;
}

function fileDiff(rel: string, before: Side | undefined, after: Side | undefined): FileDiff {
  const a = quotePath(`a/${rel}`);
  const b = quotePath(`b/${rel}`);
  const head: string[] = [`diff --git ${a} ${b}`];
  const mode = (m: number) => m.toString(8);
  if (!before) head.push(`new file mode ${mode(after!.mode)}`, `index ${ZERO_OID}..${after!.oid}`);
  else if (!after) head.push(`deleted file mode ${mode(before.mode)}`, `index ${before.oid}..${ZERO_OID}`);
  else {
    if (before.mode !== after.mode) head.push(`old mode ${mode(before.mode)}`, `new mode ${mode(after.mode)}`);
    if (before.oid === after.oid) return { data: Buffer.from(head.join("\n") + "\n"), binary: false, added: 0, removed: 0 };
    head.push(`index ${before.oid}..${after.oid}${before.mode === after.mode ? ` ${mode(after.mode)}` : ""}`);
  }
  const old = before?.bytes ?? Buffer.alloc(0);
  const now = after?.bytes ?? Buffer.alloc(0);
  if (isBinary(old) || isBinary(now)) {
    head.push("GIT binary patch", ...binaryLiteral(now), "", ...binaryLiteral(old), "");
    return { data: Buffer.from(head.join("\n") + "\n", "utf8"), binary: true, added: null, removed: null };
  }
  // An empty file added or deleted has no hunk: the header says it all (as git writes it).
  if (old.length === 0 && now.length === 0) return { data: Buffer.from(head.join("\n") + "\n"), binary: false, added: 0, removed: 0 };
  // git puts a tab after a name that holds a space, so the name's end is unambiguous.
  const tab = (n: string) => (n.includes(" ") ? "\t" : "");
  head.push(before ? `--- ${a}${tab(a)}` : "--- /dev/null", after ? `+++ ${b}${tab(b)}` : "+++ /dev/null");
  const body = hunks(old.toString("latin1"), now.toString("latin1"));
  return { data: Buffer.concat([Buffer.from(head.join("\n") + "\n", "utf8"), Buffer.from(body.text, "latin1")]), binary: false, added: body.added, removed: body.removed };
}

/** Unified hunks of two texts (each char one byte), git's header form: a count of 1 is left out, an empty side starts at the line before. */
function hunks(old: string, now: string): { text: string; added: number; removed: number } {
  // Given up (a huge file with many changes): one hunk that replaces the whole file.
  const patch = structuredPatch("a", "b", old, now, undefined, undefined, { context: CONTEXT, timeout: DIFF_TIMEOUT_MS }) ?? wholeFile(old, now);
  const range = (start: number, n: number) => (n === 1 ? `${start}` : `${n === 0 ? start - 1 : start},${n}`);
  let text = "";
  let added = 0;
  let removed = 0;
  for (const h of patch.hunks) {
    text += `@@ -${range(h.oldStart, h.oldLines)} +${range(h.newStart, h.newLines)} @@\n`;
    for (const line of h.lines) {
      if (line[0] === "+") added++;
      else if (line[0] === "-") removed++;
      text += line + "\n";
    }
  }
  return { text, added, removed };
}

/** Every old line removed, every new line added: exact, and needs no diff at all. */
function wholeFile(old: string, now: string): { hunks: Array<{ oldStart: number; oldLines: number; newStart: number; newLines: number; lines: string[] }> } {
  const side = (s: string, sign: string) => {
    if (s === "") return [];
    const lines = s.split("\n");
    const last = lines.pop()!;
    const out = lines.map((l) => sign + l);
    if (last !== "") out.push(sign + last, "\\ No newline at end of file");
    return out;
  };
  const o = side(old, "-");
  const n = side(now, "+");
  const count = (l: string[]) => l.filter((x) => x[0] !== "\\").length;
  return { hunks: [{ oldStart: 1, oldLines: count(o), newStart: 1, newLines: count(n), lines: [...o, ...n] }] };
}

function isBinary(b: Buffer): boolean {
  return b.subarray(0, BINARY_PROBE).includes(0);
}

const B85 = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz!#$%&()*+-;<=>?@^_`{|}~";

/** A `literal N` hunk of a git binary patch: the bytes deflated (zlib), 52 bytes a line in git's base85, each line led by its length (A-Z = 1-26, a-z = 27-52). */
export function binaryLiteral(data: Buffer): string[] {
  // Level 1, git's own for diffs (zlib_compression_level = Z_BEST_SPEED): the fastest, and git diff's bytes.
  const z = deflateSync(data, { level: 1 });
  const lines = [`literal ${data.length}`];
  for (let i = 0; i < z.length; i += 52) {
    const chunk = z.subarray(i, i + 52);
    const n = chunk.length;
    let line = n <= 26 ? String.fromCharCode(65 + n - 1) : String.fromCharCode(97 + n - 27);
    for (let j = 0; j < n; j += 4) {
      let acc = 0;
      for (let k = 0; k < 4; k++) acc = acc * 256 + (chunk[j + k] ?? 0);
      let group = "";
      for (let k = 0; k < 5; k++) {
        group = B85[acc % 85]! + group;
        acc = Math.floor(acc / 85);
      }
      line += group;
    }
    lines.push(line);
  }
  return lines;
}

/** git's quote_c_style with core.quotePath on: the name as is, or in double quotes with C escapes. */
export function quotePath(name: string): string {
  const bytes = Buffer.from(name, "utf8");
  if (!bytes.some((c) => c < 0x20 || c === 0x22 || c === 0x5c || c >= 0x7f)) return name;
  const named: Record<number, string> = { 7: "\\a", 8: "\\b", 9: "\\t", 10: "\\n", 11: "\\v", 12: "\\f", 13: "\\r", 0x22: '\\"', 0x5c: "\\\\" };
  let out = '"';
  for (const c of bytes) {
    if (named[c]) out += named[c];
    else if (c < 0x20 || c >= 0x7f) out += "\\" + c.toString(8).padStart(3, "0");
    else out += String.fromCharCode(c);
  }
  return out + '"';
}

