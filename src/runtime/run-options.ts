import { PodError } from "../errors.js";
import type { Manifest } from "../manifest.js";
import { parseDuration } from "./limits.js";
import { loadOutputSchema, type OutputSchema } from "./structured-output.js";
import { resolveOutputTarget, type OutputTarget } from "../store/output-target.js";

/** The run options of `pod run` / `pod resume` as the command line gives them (SPEC "Run options"). */
export interface RunFlags {
  session?: string | undefined;
  new?: boolean | undefined;
  outputSchema?: string | undefined;
  outputLastMessage?: string | undefined;
  maxBudgetUsd?: number | undefined;
  timeout?: string | undefined;
  failOnDenial?: boolean | undefined;
}

/** The same options checked and resolved, flags over manifest keys. */
export interface RunOptions {
  session?: string | undefined;
  newSession: boolean;
  outputSchema?: OutputSchema | undefined;
  /** -o, resolved at start (src/store/output-target.ts): written only where it pointed then. */
  outputFile?: OutputTarget | undefined;
  maxCostUsd?: number | undefined;
  timeoutMs?: number | undefined;
  /** --fail-on-denial: exit 1 when run_end.denials is not empty. */
  failOnDenial?: boolean | undefined;
}

/**
 * Checks every run option before the pod is touched: a bad flag is a usage error
 * (exit 2) that costs nothing, not a failure after the model has been paid.
 */
export async function resolveRunOptions(flags: RunFlags, manifest: Manifest): Promise<RunOptions> {
  if (flags.session !== undefined && flags.new) {
    throw new PodError("invalid_input", "--session and --new were both given", "use --session ID to continue a stored session, or --new to start a fresh one");
  }
  const outputFile = flags.outputLastMessage === undefined ? undefined : await resolveOutputTarget(flags.outputLastMessage, "-o");
  const timeout = flags.timeout ?? manifest.data.pod.timeout;
  return {
    session: flags.session,
    newSession: flags.new === true,
    outputSchema: flags.outputSchema === undefined ? undefined : await loadOutputSchema(flags.outputSchema),
    outputFile,
    maxCostUsd: flags.maxBudgetUsd ?? manifest.data.pod.max_cost_usd,
    timeoutMs: timeout === undefined ? undefined : parseDuration(timeout, flags.timeout !== undefined ? "--timeout" : "[pod] timeout"),
    failOnDenial: flags.failOnDenial === true,
  };
}
