import { PodError } from "../../errors.js";
import { invokeReplay } from "../../runtime/agent.js";
import { loadContext, withContext, type GlobalOptions } from "../context.js";

export interface ReplayCommandOptions extends GlobalOptions {
  tools?: string;
}

/**
 * `pod replay [RUN_ID] [--tools live|recorded]`: the recorded run (default: the last one)
 * driven again offline; src/runtime/replay.ts has the rules. Needs no key and no network.
 * `load`: as runCommand's (test/helpers/in-process.ts).
 */
export async function replayCommand(runId: string | undefined, opts: ReplayCommandOptions, load = loadContext): Promise<number> {
  return withContext(opts, async (ctx) => {
    const tools = opts.tools ?? "live";
    if (tools !== "live" && tools !== "recorded") {
      throw new PodError("invalid_input", `--tools ${JSON.stringify(tools)}: not a way to replay tools`, "use --tools live (run them again on the workspace, the default) or --tools recorded (answer them from the recording)");
    }
    return invokeReplay({ manifest: ctx.manifest, runtimeDir: ctx.runtimeDir, sink: ctx.sink, runId, tools });
  }, load);
}
