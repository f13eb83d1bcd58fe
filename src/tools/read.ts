import { createHash, type Hash } from "node:crypto";
import type { FileHandle } from "node:fs/promises";
import { z } from "zod";
import { redactGitConfig } from "../policy/git-credentials.js";
import { deny, pathRefused } from "./denial.js";
import { openRegular } from "./regular-file.js";
import type { ScopedFs } from "./scoped-fs.js";
import { fail, looksBinary, ok } from "./text.js";
import type { Tracker } from "./tracker.js";
import type { Tool } from "./types.js";
import { toolIdentity } from "./registry.js";

export const DEFAULT_LINE_LIMIT = 2000;
export const MAX_LINE_CHARS = 2000;
/** At most this much text comes back from one Read, however large the file. */
export const MAX_READ_CHARS = 256 * 1024;

const Input = z.object({
  path: z.string().describe("File path, relative to the workspace root"),
  offset: z.number().int().positive().optional().describe("First line to return (1-based). Default 1"),
  limit: z.number().int().positive().optional().describe(`Number of lines to return. Default ${DEFAULT_LINE_LIMIT}`),
});

/** Bytes per read from the file: big enough that a 100 MB line is a few hundred reads. */
const CHUNK_BYTES = 256 * 1024;

/**
 * Read: the file with line numbers (like `cat -n`). It reads the file in fixed
 * chunks and stops at the line limit or the size cap; of each line it keeps at most
 * what can be shown, and lines before `offset` are only counted, so a 100 MB file —
 * even one single line — costs no more memory than a small one. Anything that is
 * not a regular file (FIFO, socket, device) is refused without blocking. Binary
 * files are refused; invalid UTF-8 shows as U+FFFD, never as a split character.
 */
export function readTool(fs: ScopedFs, tracker: Tracker): Tool<z.infer<typeof Input>> {
  return {
    ...toolIdentity("Read"),
    description: `Read a text file in the workspace. Returns lines prefixed with their line numbers. Use offset/limit for large files (default: the first ${DEFAULT_LINE_LIMIT} lines; at most ${MAX_READ_CHARS / 1024} KiB per call). You must Read a file before you Edit or overwrite it.`,
    inputSchema: Input,
    async run(input, ctx) {
      const r = await fs.resolve(input.path, "read");
      if (!r.ok) return pathRefused(r);
      if (!r.exists) return fail(`${input.path} does not exist. Use Glob to find files.`);
      const opened = await openRegular(r.abs, input.path);
      if (!opened.ok) return fail(opened.message);
      const { handle, st } = opened;
      let out: Lines;
      // The content's hash, from the bytes as they are read: the read proof an approval carries (tracker.ts).
      const hash = createHash("sha256");
      try {
        const linked = await fs.checkLinks(st, "read", input.path, ctx.signal);
        if (linked) return deny(linked);
        const head = Buffer.alloc(Math.min(8192, st.size));
        await handle.read(head, 0, head.length, 0);
        if (looksBinary(head)) return fail(`${input.path} is a binary file (${st.size} bytes); Read only shows text.`);
        if (await fs.holdsCredentials(r.rel, st, ctx.signal)) {
          // A git config may hold the CI's token (actions/checkout's extraheader): shown redacted, whole (they are small).
          if (st.size > MAX_READ_CHARS) return fail(`${input.path} is one of git's config files and too large to show redacted (${st.size} bytes).`);
          const raw = await handle.readFile();
          hash.update(raw);
          out = linesOf(redactGitConfig(raw.toString("utf8")).text, input.offset ?? 1, input.limit ?? DEFAULT_LINE_LIMIT);
        } else out = await readLines(handle, input.offset ?? 1, input.limit ?? DEFAULT_LINE_LIMIT, ctx.signal, hash);
      } catch (err) {
        if (ctx.signal.aborted) return fail(`Read of ${input.path} was cancelled.`);
        return fail(`${input.path} cannot be read (${(err as NodeJS.ErrnoException).code ?? (err as Error).message}).`);
      } finally {
        await handle.close();
      }
      const offset = input.offset ?? 1;
      await tracker.recordRead(r.abs, r.rel, st, out.complete ? hash.digest("hex") : undefined);
      if (out.lines.length === 0) {
        return ok(out.totalLinesSeen < offset && out.complete ? `${input.path} has ${out.totalLinesSeen} lines; offset ${offset} is past the end.` : `${input.path} is empty.`);
      }
      const width = String(offset + out.lines.length - 1).length;
      let text = out.lines.map((l, i) => `${String(offset + i).padStart(Math.max(width, 6))}\t${l}`).join("\n");
      const truncated = out.cutBySize || out.linesCut > 0 || !out.complete;
      if (!out.complete) {
        const next = offset + out.lines.length;
        text += `\n[truncated: more lines follow; Read again with offset=${next} to continue]`;
      }
      if (out.linesCut > 0) text += `\n[${out.linesCut} long line(s) were cut at ${MAX_LINE_CHARS} characters]`;
      return ok(text, truncated);
    },
  };
}

interface Lines {
  lines: string[];
  /** True when the file ended within the window. */
  complete: boolean;
  cutBySize: boolean;
  linesCut: number;
  totalLinesSeen: number;
}

/** The window [offset, offset+limit) of a text already in memory (a redacted git config), as readLines returns it. */
function linesOf(text: string, offset: number, limit: number): Lines {
  const all = text.split("\n");
  if (all.at(-1) === "") all.pop();
  let linesCut = 0;
  const lines = all.slice(offset - 1, offset - 1 + limit).map((l) => {
    const line = l.endsWith("\r") ? l.slice(0, -1) : l;
    if (line.length <= MAX_LINE_CHARS) return line;
    linesCut++;
    return line.slice(0, MAX_LINE_CHARS) + "…";
  });
  return { lines, complete: offset - 1 + limit >= all.length, cutBySize: false, linesCut, totalLinesSeen: all.length };
}

/** Bytes of one line kept for display: enough for MAX_LINE_CHARS characters of up to 4 bytes, and one more. */
const KEEP_LINE_BYTES = MAX_LINE_CHARS * 4 + 4;

/**
 * The window [offset, offset+limit) of lines, scanned on raw bytes: newlines are
 * found with Buffer.indexOf (memchr), lines before the window are only counted, and
 * a line in the window keeps at most KEEP_LINE_BYTES (decoded once it ends), so time
 * is one pass over the bytes up to the window's end and memory is a chunk plus the
 * output. Throws if the signal is aborted (checked between chunks).
 */
async function readLines(handle: FileHandle, offset: number, limit: number, signal: AbortSignal, hash?: Hash): Promise<Lines> {
  const buf = Buffer.allocUnsafe(CHUNK_BYTES);
  const lines: string[] = [];
  let lineNo = 0; // lines completed so far
  let kept: Buffer[] = [];
  let keptBytes = 0;
  let cut = false; // the current line had more bytes than were kept
  let inLine = false; // bytes seen since the last newline
  let chars = 0;
  let linesCut = 0;
  let full = false; // the window is complete; one more byte means "more follows"
  let cutBySize = false;

  const finish = () => {
    lineNo++;
    inLine = false;
    if (lineNo < offset) return;
    let line = Buffer.concat(kept, keptBytes).toString("utf8");
    if (!cut && line.endsWith("\r")) line = line.slice(0, -1);
    if (cut || line.length > MAX_LINE_CHARS) {
      line = line.slice(0, MAX_LINE_CHARS) + "…";
      linesCut++;
    }
    kept = [];
    keptBytes = 0;
    cut = false;
    lines.push(line);
    chars += line.length + 8;
    if (lines.length >= limit || chars >= MAX_READ_CHARS) {
      full = true;
      cutBySize = chars >= MAX_READ_CHARS && lines.length < limit;
    }
  };

  let pos = 0;
  for (;;) {
    if (signal.aborted) throw new Error("cancelled");
    const { bytesRead } = await handle.read(buf, 0, buf.length, pos);
    if (bytesRead === 0) break;
    pos += bytesRead;
    const chunk = buf.subarray(0, bytesRead);
    hash?.update(chunk);
    let start = 0;
    while (start < chunk.length) {
      if (full) return { lines, complete: false, cutBySize, linesCut, totalLinesSeen: lineNo };
      const nl = chunk.indexOf(10, start);
      const end = nl === -1 ? chunk.length : nl;
      if (end > start) inLine = true;
      if (lineNo + 1 >= offset) {
        const room = KEEP_LINE_BYTES - keptBytes;
        const take = Math.min(room, end - start);
        if (take > 0) {
          kept.push(Buffer.from(chunk.subarray(start, start + take))); // copied: buf is reused
          keptBytes += take;
        }
        if (take < end - start) cut = true;
      }
      if (nl === -1) break;
      finish();
      start = nl + 1;
    }
  }
  if (inLine && !full) finish();
  return { lines, complete: true, cutBySize, linesCut, totalLinesSeen: lineNo };
}
