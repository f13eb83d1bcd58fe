import { expect } from "vitest";
import type { ToolResult } from "../../src/tools/types.js";
import type { Tools } from "../tools/helpers.js";

/**
 * The Bash tool of a test toolbox, failing the test when the call did not run in the
 * sandbox: an attack that "leaks nothing" because Bash was refused proves nothing.
 * So on a machine without a working bwrap these tests fail, as they must; they never skip.
 */
export function sandboxedBash(t: Tools): (command: string) => Promise<ToolResult> {
  const bash = t.Bash!;
  return async (command) => {
    const r = await bash({ command });
    expect(r.output, "this test needs Bash to run in bubblewrap").not.toMatch(/^sandbox_unavailable|^Could not start/);
    expect(r.output, "the command must have run to its end").toMatch(/\[exit code: \d+\]$/);
    return r;
  };
}
