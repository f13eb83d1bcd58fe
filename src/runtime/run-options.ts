import { existsSync, statSync } from "node:fs";
import path from "node:path";
import { PodError } from "../errors.js";
import type { Manifest } from "../manifest.js";
import { parseDuration } from "./limits.js";
import { loadOutputSchema, type OutputSchema } from "./structured-output.js";
import { resolveOperatorTarget, type OperatorTarget } from "../changes/operator-file.js";

/** The run options of `pod run` / `pod resume` as the command line gives them (SPEC "Run options"). */
export interface RunFlags {
  session?: string | undefined;
  new?: boolean | undefined;
  outputSchema?: string | undefined;
  outputLastMessage?: string | undefined;
  maxBudgetUsd?: number | undefined;
  timeout?: string | undefined;
  diff?: string | undefined;
  review?: boolean | undefined;
  sarif?: string | undefined;
}

/** The same options checked and resolved, flags over manifest keys. */
export interface RunOptions {
  session?: string | undefined;
  newSession: boolean;
  outputSchema?: OutputSchema | undefined;
  /** Absolute path for -o. */
  outputFile?: string | undefined;
  maxCostUsd?: number | undefined;
  timeoutMs?: number | undefined;
  /** --diff FILE, resolved at start (src/changes/). */
  diff?: OperatorTarget | undefined;
  /** --review: the final answer follows pod's findings schema (src/review/). */
  review?: boolean | undefined;
  /** --sarif FILE (with --review), resolved at start. */
  sarif?: OperatorTarget | undefined;
}

/**
 * Checks every run option before the pod is touched: a bad flag is a usage error
 * (exit 2) that costs nothing, not a failure after the model has been paid.
 */
export async function resolveRunOptions(flags: RunFlags, manifest: Manifest): Promise<RunOptions> {
  if (flags.session !== undefined && flags.new) {
    throw new PodError("invalid_input", "--session and --new were both given", "use --session ID to continue a stored session, or --new to start a fresh one");
  }
  const outputFile = flags.outputLastMessage === undefined ? undefined : path.resolve(flags.outputLastMessage);
  if (outputFile !== undefined) {
    const dir = path.dirname(outputFile);
    if (!existsSync(dir) || !statSync(dir).isDirectory()) {
      throw new PodError("invalid_input", `-o ${flags.outputLastMessage}: the directory ${dir} does not exist`, "create it first, or write the file somewhere that exists");
    }
  }
  checkReviewFlags(flags, manifest);
  const timeout = flags.timeout ?? manifest.data.pod.timeout;
  return {
    session: flags.session,
    newSession: flags.new === true,
    outputSchema: flags.outputSchema === undefined ? undefined : await loadOutputSchema(flags.outputSchema),
    outputFile,
    maxCostUsd: flags.maxBudgetUsd ?? manifest.data.pod.max_cost_usd,
    timeoutMs: timeout === undefined ? undefined : parseDuration(timeout, flags.timeout !== undefined ? "--timeout" : "[pod] timeout"),
    diff: flags.diff === undefined ? undefined : resolveOperatorTarget("--diff", flags.diff),
    review: flags.review === true,
    sarif: flags.sarif === undefined ? undefined : resolveOperatorTarget("--sarif", flags.sarif),
  };
}

/** --diff, --review and --sarif: the combinations that mean something (docs/review.md, docs/changes.md). */
function checkReviewFlags(flags: RunFlags, manifest: Manifest): void {
  const noScope = (flag: string, what: string) =>
    new PodError("invalid_input", `${flag} needs a [scope]: ${what}`, "declare [scope] in the manifest (root = \".\") or drop the flag");
  if (flags.sarif !== undefined && !flags.review) {
    throw new PodError("invalid_input", "--sarif was given without --review", "add --review: the SARIF file holds a review run's findings");
  }
  if (flags.review && flags.outputSchema !== undefined) {
    throw new PodError("invalid_input", "--review and --output-schema were both given", "--review is an output schema of its own (pod's findings schema); use one or the other");
  }
  if (manifest.scopeRoot === undefined) {
    if (flags.diff !== undefined) throw noScope("--diff", "without one the pod has no workspace whose changes it could diff");
    if (flags.review) throw noScope("--review", "findings name files and lines in the workspace");
  }
}
