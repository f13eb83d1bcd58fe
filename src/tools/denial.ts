import { fail } from "./text.js";
import type { ToolResult } from "./types.js";

/**
 * A call the boundary refused (scope, deny, protection, writable, the Bash allowlist, a
 * missing sandbox, a hook, a person): an error result for the model, and one entry of
 * run_end.denials. Ordinary failures (a missing file, a failing command) use `fail`.
 */
export const deny = (output: string): ToolResult => ({ output, isError: true, truncated: false, denied: true });

/**
 * ScopedFs.resolve's failures that are not refusals: a malformed path or an I/O problem.
 * Everything else it refuses (outside the scope, a link out of it, protected, hidden,
 * denied, not writable) is a denial. Matched on its messages because scoped-fs.ts does
 * not say which is which; a `denied` flag on its result, when it has one, wins.
 * test/tools/denials.test.ts pins every message to its side.
 */
const ORDINARY = [
  /^The path is empty/,
  /^The path contains a NUL byte/,
  /^The path is longer than/,
  /^A path component is longer than/,
  /goes through a file, not a directory/,
  /cannot be checked/,
  /is a symlink loop/,
  /cannot be resolved/,
];

/** The result for a path ScopedFs.resolve did not accept. */
export function pathRefused(r: { message: string; denied?: boolean }): ToolResult {
  const denied = r.denied ?? !ORDINARY.some((re) => re.test(r.message));
  return denied ? deny(r.message) : fail(r.message);
}
