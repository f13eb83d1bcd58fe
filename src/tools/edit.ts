import { z } from "zod";
import { deny, pathRefused } from "./denial.js";
import { openRegular } from "./regular-file.js";
import type { ScopedFs } from "./scoped-fs.js";
import { fail, looksBinary, ok } from "./text.js";
import { readProofs, type Tracker } from "./tracker.js";
import type { Tool } from "./types.js";
import { writeAtomic } from "./write.js";
import { toolIdentity } from "./registry.js";

const Input = z.object({
  path: z.string().describe("File path, relative to the workspace root"),
  old_string: z.string().min(1).describe("The exact text to replace (must match the file, including indentation)"),
  new_string: z.string().describe("The text to put in its place"),
  replace_all: z.boolean().optional().describe("Replace every occurrence (default: old_string must occur exactly once)"),
});

/** Edit loads the whole file; past this size, rewrite it with Write instead. */
export const MAX_EDIT_BYTES = 16 * 1024 * 1024;

function countOccurrences(text: string, needle: string): number {
  let count = 0;
  for (let i = text.indexOf(needle); i !== -1; i = text.indexOf(needle, i + needle.length)) count++;
  return count;
}

/**
 * Edit: exact string replacement. old_string must be unique unless replace_all;
 * the file must have been read in this session and be unchanged since. A file with
 * CRLF line endings keeps them even when the model writes plain "\n".
 */
export function editTool(fs: ScopedFs, tracker: Tracker): Tool<z.infer<typeof Input>> {
  return {
    ...toolIdentity("Edit"),
    description: "Replace exact text in a file. old_string must match exactly once (or set replace_all). Read the file first in this session.",
    inputSchema: Input,
    readProof: readProofs(fs, tracker),
    async run(input, ctx) {
      if (ctx.signal.aborted) return fail("Edit was cancelled.");
      const r = await fs.resolve(input.path, "write");
      if (!r.ok) return pathRefused(r);
      if (!r.exists) return fail(`${input.path} does not exist. Use Write to create a file.`);
      const stale = await tracker.checkFresh(r.abs, r.rel);
      if (stale) return fail(stale);
      if (input.old_string === input.new_string) return fail("old_string and new_string are the same; nothing to change.");
      const opened = await openRegular(r.abs, input.path);
      if (!opened.ok) return fail(opened.message);
      let buf: Buffer;
      try {
        const linked = await fs.checkLinks(opened.st, "write", input.path, ctx.signal).catch(() => null);
        if (linked === null) return fail("Edit was cancelled.");
        if (linked) return deny(linked);
        if (opened.st.size > MAX_EDIT_BYTES) {
          return fail(`${input.path} is ${opened.st.size} bytes; Edit works on files up to ${MAX_EDIT_BYTES / 1024 / 1024} MiB. Use Write to replace it.`);
        }
        buf = await opened.handle.readFile();
      } catch (err) {
        return fail(`${input.path} cannot be read (${(err as NodeJS.ErrnoException).code}).`);
      } finally {
        await opened.handle.close();
      }
      if (looksBinary(buf)) return fail(`${input.path} is a binary file; Edit only changes text.`);
      const text = buf.toString("utf8");
      const crlf = text.includes("\r\n");
      const toFile = (s: string) => (crlf ? s.replace(/\r?\n/g, "\r\n") : s);
      let oldString = input.old_string;
      let newString = input.new_string;
      let count = countOccurrences(text, oldString);
      if (count === 0 && crlf && countOccurrences(text, toFile(oldString)) > 0) {
        oldString = toFile(oldString);
        newString = toFile(newString);
        count = countOccurrences(text, oldString);
      }
      if (count === 0) return fail(`old_string was not found in ${r.rel}. Read the file again and copy the text exactly, including whitespace.`);
      if (count > 1 && !input.replace_all) {
        return fail(`old_string occurs ${count} times in ${r.rel}. Add surrounding lines to make it unique, or set replace_all to change all ${count}.`);
      }
      const updated = input.replace_all ? text.split(oldString).join(newString) : text.replace(oldString, () => newString);
      try {
        await writeAtomic(r.abs, updated);
      } catch (err) {
        return fail(`${input.path} could not be written (${(err as NodeJS.ErrnoException).code}).`);
      }
      await tracker.recordWrite(r.abs, r.rel);
      return ok(`Edited ${r.rel}: replaced ${input.replace_all ? count : 1} occurrence${count > 1 && input.replace_all ? "s" : ""}.`);
    },
  };
}
