import { PodError } from "../errors.js";
import type { Manifest } from "../manifest.js";
import { builtInTool, isToolName, TOOL_NAMES } from "../tools/registry.js";
import { parseDuration } from "./limits.js";
import { loadOutputSchema, type OutputSchema } from "./structured-output.js";
import { resolveOperatorFile, type OperatorFile } from "../store/operator-file.js";

/** The run options of `pod run` / `pod resume` as the command line gives them (SPEC "Run options"). */
export interface RunFlags {
  session?: string | undefined;
  new?: boolean | undefined;
  outputSchema?: string | undefined;
  outputLastMessage?: string | undefined;
  maxBudgetUsd?: number | undefined;
  timeout?: string | undefined;
  /** Per-run overrides of the manifest (applyRunOverrides). */
  allowTool?: string[] | undefined;
  disallowTool?: string[] | undefined;
  appendSystemPrompt?: string | undefined;
  /** --bash (true) / --no-bash (false); undefined when neither was given. */
  bash?: boolean | undefined;
  failOnDenial?: boolean | undefined;
  diff?: string | undefined;
  review?: boolean | undefined;
  sarif?: string | undefined;
}

/** The same options checked and resolved, flags over manifest keys. */
export interface RunOptions {
  session?: string | undefined;
  newSession: boolean;
  outputSchema?: OutputSchema | undefined;
  /** -o, resolved at start (src/store/operator-file.ts): written only where it pointed then. */
  outputFile?: OperatorFile | undefined;
  maxCostUsd?: number | undefined;
  timeoutMs?: number | undefined;
  /** --fail-on-denial: exit 1 when run_end.denials is not empty. */
  failOnDenial?: boolean | undefined;
  /** --diff FILE, resolved at start (src/changes/). */
  diff?: OperatorFile | undefined;
  /** --review: the final answer follows pod's findings schema (src/review/). */
  review?: boolean | undefined;
  /** --sarif FILE (with --review), resolved at start. */
  sarif?: OperatorFile | undefined;
}

/**
 * Checks every run option before the pod is touched: a bad flag is a usage error
 * (exit 2) that costs nothing, not a failure after the model has been paid.
 */
export async function resolveRunOptions(flags: RunFlags, manifest: Manifest): Promise<RunOptions> {
  if (flags.session !== undefined && flags.new) {
    throw new PodError("invalid_input", "--session and --new were both given", "use --session ID to continue a stored session, or --new to start a fresh one");
  }
  const outputFile = flags.outputLastMessage === undefined ? undefined : resolveOperatorFile("-o", flags.outputLastMessage);
  checkReviewFlags(flags, manifest);
  const timeout = flags.timeout ?? manifest.data.pod.timeout;
  return {
    session: flags.session,
    newSession: flags.new === true,
    outputSchema: flags.outputSchema === undefined ? undefined : await loadOutputSchema(flags.outputSchema),
    outputFile,
    maxCostUsd: flags.maxBudgetUsd ?? manifest.data.pod.max_cost_usd,
    timeoutMs: timeout === undefined ? undefined : parseDuration(timeout, flags.timeout !== undefined ? "--timeout" : "[pod] timeout"),
    failOnDenial: flags.failOnDenial === true,
    diff: flags.diff === undefined ? undefined : resolveOperatorFile("--diff", flags.diff),
    review: flags.review === true,
    sarif: flags.sarif === undefined ? undefined : resolveOperatorFile("--sarif", flags.sarif),
  };
}

/**
 * The manifest as this run uses it: the per-run flags (SPEC "Common options") applied
 * over pod.toml for this invocation only. The runtime dir's manifest.toml snapshot is
 * written from the result, so it shows what the run really used.
 *
 * - `--allow-tool T`: T is available and runs without approval: taken out of `[tools]
 *   disabled` and `[tools] ask`; `--allow-tool Bash` also enables Bash (its allowlist
 *   and sandbox still apply).
 * - `--disallow-tool T`: T is added to `[tools] disabled` (the model never sees it).
 * - `--bash` / `--no-bash`: `[tools.bash] enabled` for this run (`--bash` also takes
 *   Bash out of `disabled`).
 * - `--append-system-prompt TEXT`: added after `[pod] append_system_prompt`.
 *
 * Contradictions (the same tool allowed and disallowed, `--bash` with `--disallow-tool
 * Bash`) and tools the pod cannot have (a file tool without `[scope]`) are usage errors.
 */
export function applyRunOverrides(manifest: Manifest, flags: RunFlags): Manifest {
  const allow = [...new Set(flags.allowTool ?? [])];
  const disallow = [...new Set(flags.disallowTool ?? [])];
  if (allow.length === 0 && disallow.length === 0 && flags.appendSystemPrompt === undefined && flags.bash === undefined) return manifest;
  const names = `${TOOL_NAMES.join(", ")} or an MCP tool (mcp__<server>__<tool>)`;
  for (const [flag, list] of [["--allow-tool", allow], ["--disallow-tool", disallow]] as const) {
    for (const t of list) if (!isToolName(t)) throw new PodError("invalid_input", `${flag} ${JSON.stringify(t)}: no such tool`, `name one of ${names}`);
  }
  const both = allow.find((t) => disallow.includes(t));
  if (both) throw new PodError("invalid_input", `--allow-tool ${both} and --disallow-tool ${both} were both given`, "choose one");
  if (flags.bash === true && disallow.includes("Bash")) throw new PodError("invalid_input", "--bash and --disallow-tool Bash were both given", "choose one");
  if (flags.bash === false && allow.includes("Bash")) throw new PodError("invalid_input", "--no-bash and --allow-tool Bash were both given", "choose one");
  const wantsBash = flags.bash === true || allow.includes("Bash");
  const fileTool = allow.find((t) => builtInTool(t)?.room === "file");
  if (manifest.scopeRoot === undefined && (wantsBash || fileTool)) {
    throw new PodError(
      "invalid_input",
      `${wantsBash ? (flags.bash ? "--bash" : "--allow-tool Bash") : `--allow-tool ${fileTool}`}: ${manifest.file} has no [scope], so the pod has no file tools or Bash`,
      'add [scope] root = "." to pod.toml (docs/manifest.md)',
    );
  }
  const data = structuredClone(manifest.data);
  const tools = data.tools;
  tools.disabled = [...tools.disabled.filter((t) => !allow.includes(t) && !(wantsBash && t === "Bash")), ...disallow.filter((t) => !tools.disabled.includes(t))];
  tools.ask = tools.ask.filter((t) => !allow.includes(t) && !disallow.includes(t));
  if (wantsBash) tools.bash.enabled = true;
  if (flags.bash === false || disallow.includes("Bash")) tools.bash.enabled = false;
  if (flags.appendSystemPrompt !== undefined && flags.appendSystemPrompt.trim() !== "") {
    data.pod.append_system_prompt = [data.pod.append_system_prompt?.trimEnd(), flags.appendSystemPrompt].filter((p) => p !== undefined && p !== "").join("\n\n");
  }
  return { ...manifest, data };
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
