import type { Protection } from "../policy/protection.js";
import { bashTool } from "./bash/tool.js";
import { editTool } from "./edit.js";
import { globTool } from "./glob.js";
import { grepTool } from "./grep/index.js";
import { readTool } from "./read.js";
import { ScopedFs } from "./scoped-fs.js";
import { Tracker } from "./tracker.js";
import type { BashConfig, ScopeConfig, Tool } from "./types.js";
import { writeTool } from "./write.js";

export interface Toolbox {
  tools: Tool[];
  /** The protection policy the file tools and Bash obey; its sandboxView() is what any other confined process of the run should get. */
  protection?: Protection;
  /** Files the agent read / wrote in this process, relative to scope root (for compaction). */
  touchedFiles(): { read: string[]; written: string[] };
}

/**
 * The file tools of a pod with a [scope]: one ScopedFs (the boundary) and one
 * Tracker per process, shared by every tool. Bash only when enabled.
 */
export async function createToolbox(scope: ScopeConfig, bash: BashConfig, protection?: Protection): Promise<Toolbox> {
  const fs = new ScopedFs(scope, protection);
  const tracker = new Tracker();
  const tools: Tool[] = [readTool(fs, tracker), writeTool(fs, tracker), editTool(fs, tracker), globTool(fs), grepTool(fs)];
  if (bash.enabled) {
    // A command can make hardlinks, so the boundary's inode sets are stale after one.
    const bashT = bashTool(fs.protection, bash);
    tools.push({ ...bashT, run: (input, ctx) => bashT.run(input, ctx).finally(() => fs.forgetLinks()) });
  }
  return { tools, protection: fs.protection, touchedFiles: () => tracker.touched() };
}
