import path from "node:path";
import type { HookConfig } from "./hooks.js";

/**
 * Files a hook command runs, which the model must not be able to edit (hooks run
 * unconfined, so editing one would escape the sandbox). Every word of a command
 * that looks like a path (has a "/") is taken, relative to both the manifest's
 * directory and the hook's working directory; protecting a path that is not a
 * script costs nothing (it only becomes read-only).
 */
export function hookScriptPaths(hooks: HookConfig, dirs: readonly string[]): string[] {
  const out = new Set<string>();
  for (const h of [...hooks.pre_tool_use, ...hooks.post_tool_use, ...hooks.stop]) {
    for (const word of h.command.split(/\s+/)) {
      const w = word.replace(/^['"]|['"]$/g, "");
      if (!w.includes("/") || w.includes("$") || /^[a-z]+:\/\//.test(w)) continue;
      for (const dir of dirs) out.add(path.resolve(dir, w));
    }
  }
  return [...out];
}
