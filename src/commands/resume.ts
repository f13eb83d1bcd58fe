import { PodError } from "../errors.js";
import { invokeRun } from "../runtime/agent.js";
import type { Approval } from "../runtime/run-loop.js";
import { applyRunOverrides, resolveRunOptions, type RunFlags } from "../runtime/run-options.js";
import { loadContext, withContext, type GlobalOptions } from "./context.js";

export interface ResumeOptions extends GlobalOptions, Omit<RunFlags, "session" | "new"> {
  approve?: boolean;
  /** `--deny` alone gives `true`; `--deny "reason"` the reason. */
  deny?: string | boolean;
}

/** `pod resume [--approve | --deny [reason]]`. `load`: as runCommand's (test/helpers/in-process.ts). */
export async function resumeCommand(opts: ResumeOptions, load = loadContext): Promise<number> {
  return withContext(opts, async (loaded) => {
    const ctx = { ...loaded, manifest: applyRunOverrides(loaded.manifest, opts) };
    if (opts.approve && opts.deny !== undefined) {
      throw new PodError("invalid_input", "--approve and --deny were both given", "choose one");
    }
    let approval: Approval | undefined;
    if (opts.approve) approval = { kind: "approve" };
    else if (opts.deny !== undefined) {
      approval = { kind: "deny", reason: typeof opts.deny === "string" && opts.deny.trim() ? opts.deny : "no reason given" };
    }
    const run = await resolveRunOptions(opts, ctx.manifest);
    return invokeRun({ mode: "resume", approval }, { ...ctx, model: opts.model, maxTurns: opts.maxTurns, run });
  }, load);
}
