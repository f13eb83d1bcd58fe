/**
 * src/review/ — review runs (`--review`, `--sarif`): pod's built-in findings schema,
 * the scope's test of each finding (its file and lines exist), and the findings as
 * SARIF 2.1.0. docs/review.md describes the schema and the SARIF mapping.
 *
 * May import: node's built-ins, ../errors, ../version, ../runtime/structured-output
 * (a review answer is a structured output: same tool, same ajv, same retries),
 * ../tools/scoped-fs and ../policy/protected (the scope's rules), ../changes (the
 * operator-file writer and the deny cache). Emits no events.
 */
import { PodError } from "../errors.js";
import { compileOutputSchema, type OutputSchema } from "../runtime/structured-output.js";
import { protectedPaths } from "../policy/protected.js";
import { VERSION } from "../version.js";
import { writeOperatorFile, type OperatorFile } from "../store/operator-file.js";
import { FINDINGS_SCHEMA, FINDINGS_TOOL_DESCRIPTION, findingsChecker, type Findings } from "./findings.js";
import { toSarif } from "./sarif.js";
import type { Redactor } from "../redact/redactor.js";

export { FINDINGS_SCHEMA, findingsChecker, type Finding, type Findings } from "./findings.js";
export { DEFAULT_RULE, SARIF_SCHEMA, toSarif, type SarifOptions } from "./sarif.js";

export const REVIEW_SCHEMA_NAME = "pod's review findings schema (--review)";

/** The output schema of a review run: FINDINGS_SCHEMA, then every finding checked against the scope. */
export async function reviewOutputSchema(scope: { root: string; deny: string[]; runtimeDir: string; manifestFile: string }): Promise<OutputSchema> {
  const { hidden } = await protectedPaths({ manifestFile: scope.manifestFile, runtimeDir: scope.runtimeDir, scopeRoot: scope.root });
  const compiled = await compileOutputSchema(structuredClone(FINDINGS_SCHEMA) as unknown as Record<string, unknown>, REVIEW_SCHEMA_NAME);
  return { ...compiled, check: findingsChecker({ root: scope.root, deny: scope.deny, hidden }), description: FINDINGS_TOOL_DESCRIPTION };
}

/** --sarif: the accepted findings as SARIF, written atomically. A failure is the run's error (CI must not upload a stale file). */
export async function writeSarif(target: OperatorFile, findings: unknown, scopeRoot: string, redactor?: Redactor): Promise<PodError | undefined> {
  // The findings are the model's text: redacted like every output (SARIF goes to code scanning, read by many).
  const log = toSarif((redactor ? redactor.value(findings) : findings) as Findings, { version: VERSION, scopeRoot });
  try {
    await writeOperatorFile(target, JSON.stringify(log, null, 2) + "\n");
    return undefined;
  } catch (err) {
    return err instanceof PodError ? err : new PodError("internal", `${target.shown}: ${(err as Error).message}`, "check the directory is writable");
  }
}
