import { stat } from "node:fs/promises";
import picomatch from "picomatch";
import { z } from "zod";
import type { ScopedFs } from "./scoped-fs.js";
import { pathRefused } from "./denial.js";
import { fail, ok } from "./text.js";
import type { Tool } from "./types.js";
import { walkFiles } from "./walk.js";
import { toolIdentity } from "./registry.js";

export const GLOB_MAX_RESULTS = 1000;

const Input = z.object({
  pattern: z.string().min(1).describe('Glob pattern, e.g. "**/*.ts" or "src/**/test_*.py", relative to path'),
  path: z.string().optional().describe("Directory to search in, relative to the workspace root. Default: the root"),
});

/**
 * Glob: files matching a pattern, sorted by path (stable and diff-friendly, unlike
 * mtime order). .gitignore and deny are honoured; dotfiles match like any file.
 */
export function globTool(fs: ScopedFs): Tool<z.infer<typeof Input>> {
  return {
    ...toolIdentity("Glob"),
    description: `Find files by glob pattern (e.g. "**/*.test.js"). Respects .gitignore. Returns paths relative to the workspace root, sorted by path, at most ${GLOB_MAX_RESULTS}.`,
    inputSchema: Input,
    async run(input, ctx) {
      const base = await fs.resolve(input.path ?? ".", "read");
      if (!base.ok) return pathRefused(base);
      if (!base.exists || !(await stat(base.abs)).isDirectory()) return fail(`${input.path} is not a directory.`);
      let isMatch: (p: string) => boolean;
      try {
        isMatch = picomatch(input.pattern, { dot: true });
      } catch (err) {
        return fail(`Invalid glob pattern: ${(err as Error).message}`);
      }
      const prefix = base.rel ? base.rel.length + 1 : 0;
      const found: string[] = [];
      await walkFiles(
        fs,
        base.abs,
        (files) => {
          for (const f of files) if (isMatch(f.rel.slice(prefix))) found.push(f.rel);
        },
        ctx.signal,
      );
      // A cancelled walk stopped early: a partial list must not pass for the answer.
      if (ctx.signal.aborted) return fail("Glob was cancelled.");
      if (found.length === 0) return ok(`No files match ${input.pattern}${input.path ? ` in ${input.path}` : ""}.`);
      found.sort();
      if (found.length <= GLOB_MAX_RESULTS) return ok(found.join("\n"));
      return ok(`${found.slice(0, GLOB_MAX_RESULTS).join("\n")}\n[truncated: ${found.length} files match, showing the first ${GLOB_MAX_RESULTS}; use a narrower pattern or path]`, true);
    },
  };
}
