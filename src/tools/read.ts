import { createReadStream } from "node:fs";
import { open } from "node:fs/promises";
import { StringDecoder } from "node:string_decoder";
import { z } from "zod";
import type { ScopedFs } from "./scoped-fs.js";
import { fail, looksBinary, ok } from "./text.js";
import type { Tracker } from "./tracker.js";
import type { Tool } from "./types.js";

export const DEFAULT_LINE_LIMIT = 2000;
export const MAX_LINE_CHARS = 2000;
/** At most this much text comes back from one Read, however large the file. */
export const MAX_READ_CHARS = 256 * 1024;

const Input = z.object({
  path: z.string().describe("File path, relative to the workspace root"),
  offset: z.number().int().positive().optional().describe("First line to return (1-based). Default 1"),
  limit: z.number().int().positive().optional().describe(`Number of lines to return. Default ${DEFAULT_LINE_LIMIT}`),
});

/**
 * Read: the file with line numbers (like `cat -n`). It streams the file and stops
 * at the line limit or the size cap, so a 100 MB file costs no more memory than a
 * small one. Binary files are refused; invalid UTF-8 shows as U+FFFD, never as a split character.
 */
export function readTool(fs: ScopedFs, tracker: Tracker): Tool<z.infer<typeof Input>> {
  return {
    name: "Read",
    description: `Read a text file in the workspace. Returns lines prefixed with their line numbers. Use offset/limit for large files (default: the first ${DEFAULT_LINE_LIMIT} lines; at most ${MAX_READ_CHARS / 1024} KiB per call). You must Read a file before you Edit or overwrite it.`,
    inputSchema: Input,
    async run(input, ctx) {
      const r = await fs.resolve(input.path, "read");
      if (!r.ok) return fail(r.message);
      if (!r.exists) return fail(`${input.path} does not exist. Use Glob to find files.`);
      const handle = await open(r.abs, "r").catch((err: NodeJS.ErrnoException) => err);
      if (!("fd" in handle)) return fail(handle.code === "EISDIR" ? `${input.path} is a directory. Use Glob to list it.` : `${input.path} cannot be read (${handle.code}).`);
      try {
        const st = await handle.stat();
        if (st.isDirectory()) return fail(`${input.path} is a directory. Use Glob to list it.`);
        const head = Buffer.alloc(Math.min(8192, st.size));
        await handle.read(head, 0, head.length, 0);
        if (looksBinary(head)) return fail(`${input.path} is a binary file (${st.size} bytes); Read only shows text.`);
      } finally {
        await handle.close();
      }
      const offset = input.offset ?? 1;
      const limit = input.limit ?? DEFAULT_LINE_LIMIT;
      const out = await readLines(r.abs, offset, limit, ctx.signal);
      await tracker.recordRead(r.abs, r.rel);
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

async function readLines(file: string, offset: number, limit: number, signal: AbortSignal): Promise<Lines> {
  const stream = createReadStream(file, { highWaterMark: 64 * 1024, signal });
  const decoder = new StringDecoder("utf8");
  const lines: string[] = [];
  let lineNo = 0;
  let partial = "";
  let chars = 0;
  let linesCut = 0;
  let complete = true;
  let cutBySize = false;
  const take = (line: string): boolean => {
    lineNo++;
    if (lineNo < offset) return true;
    if (lines.length >= limit || chars >= MAX_READ_CHARS) {
      cutBySize = chars >= MAX_READ_CHARS;
      complete = false;
      return false;
    }
    if (line.endsWith("\r")) line = line.slice(0, -1);
    if (line.length > MAX_LINE_CHARS) {
      line = line.slice(0, MAX_LINE_CHARS) + "…";
      linesCut++;
    }
    lines.push(line);
    chars += line.length + 8;
    return true;
  };
  try {
    outer: for await (const chunk of stream) {
      const text = partial + decoder.write(chunk as Buffer);
      let start = 0;
      for (let nl = text.indexOf("\n"); nl !== -1; nl = text.indexOf("\n", start)) {
        if (!take(text.slice(start, nl))) break outer;
        start = nl + 1;
      }
      partial = text.slice(start);
      // A single enormous line: keep only what can be shown.
      if (partial.length > MAX_LINE_CHARS * 4 && lineNo + 1 >= offset) partial = partial.slice(0, MAX_LINE_CHARS + 1);
    }
    if (complete) {
      partial += decoder.end();
      if (partial.length > 0) take(partial);
    }
  } finally {
    stream.destroy();
  }
  return { lines, complete, cutBySize, linesCut, totalLinesSeen: lineNo };
}
