import { randomBytes } from "node:crypto";
import { chmod, lstat, mkdir, rename, stat, unlink, writeFile } from "node:fs/promises";
import path from "node:path";
import { z } from "zod";
import { deny, pathRefused } from "./denial.js";
import { describeKind } from "./regular-file.js";
import type { ScopedFs } from "./scoped-fs.js";
import { fail, ok } from "./text.js";
import { readProofs, type Tracker } from "./tracker.js";
import type { Tool } from "./types.js";
import { toolIdentity } from "./registry.js";

const Input = z.object({
  path: z.string().describe("File path, relative to the workspace root"),
  content: z.string().describe("The complete new content of the file"),
});

/**
 * Replaces a file atomically (temp file + rename) so a crash never leaves half a
 * file, keeping the file's mode. Parent directories are created inside the scope.
 */
export async function writeAtomic(abs: string, content: string): Promise<void> {
  let mode: number | undefined;
  try {
    mode = (await stat(abs)).mode & 0o7777;
  } catch {
    mode = undefined;
  }
  const tmp = path.join(path.dirname(abs), `.${path.basename(abs)}.pod-${randomBytes(4).toString("hex")}.tmp`);
  try {
    await writeFile(tmp, content, { encoding: "utf8", mode: mode ?? 0o644 });
    if (mode !== undefined) await chmod(tmp, mode);
    await rename(tmp, abs);
  } catch (err) {
    await unlink(tmp).catch(() => {});
    throw err;
  }
}

export function writeTool(fs: ScopedFs, tracker: Tracker): Tool<z.infer<typeof Input>> {
  return {
    ...toolIdentity("Write"),
    description: "Create a file or replace its whole content. Overwriting an existing file requires that you Read it first in this session. Prefer Edit for changes to existing files.",
    inputSchema: Input,
    readProof: readProofs(fs, tracker),
    async run(input, ctx) {
      if (ctx.signal.aborted) return fail("Write was cancelled.");
      const r = await fs.resolve(input.path, "write");
      if (!r.ok) return pathRefused(r);
      if (r.exists) {
        const st = await lstat(r.abs);
        if (st.isDirectory()) return fail(`${input.path} is a directory.`);
        if (!st.isFile()) return fail(`${input.path} is ${describeKind(st)}, not a regular file; Write only replaces regular files.`);
        const linked = await fs.checkLinks(st, "write", input.path, ctx.signal).catch(() => null);
        if (linked === null) return fail("Write was cancelled.");
        if (linked) return deny(linked);
        const stale = await tracker.checkFresh(r.abs, r.rel);
        if (stale) return fail(stale);
      } else {
        const gone = tracker.checkCreate(r.abs);
        if (gone) return fail(gone);
        // The parent chain was checked by resolve(): whatever exists is inside the scope.
        await mkdir(path.dirname(r.abs), { recursive: true });
      }
      try {
        await writeAtomic(r.abs, input.content);
      } catch (err) {
        return fail(`${input.path} could not be written (${(err as NodeJS.ErrnoException).code ?? (err as Error).message}).`);
      }
      await tracker.recordWrite(r.abs, r.rel);
      const lines = input.content === "" ? 0 : input.content.split("\n").length;
      return ok(`${r.exists ? "Replaced" : "Created"} ${r.rel} (${lines} lines, ${Buffer.byteLength(input.content)} bytes).`);
    },
  };
}
