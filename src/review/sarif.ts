import { pathToFileURL } from "node:url";
import type { Findings } from "./findings.js";

/**
 * Findings as a SARIF 2.1.0 log (docs/review.md has the mapping): one run, tool.driver
 * "pod" with pod's version, one rule per distinct `rule` (findings without one share
 * DEFAULT_RULE), severity as `level`, each location relative to the scope root
 * (`uriBaseId` SCOPEROOT, which `originalUriBaseIds` gives as the scope's absolute
 * file: URI). Valid against the official schema (test/review/sarif.test.ts checks it).
 * No `informationUri`: pod has no public home page to point to yet.
 */
export const SARIF_SCHEMA = "https://raw.githubusercontent.com/oasis-tcs/sarif-spec/master/Schemata/sarif-schema-2.1.0.json";
export const DEFAULT_RULE = "pod-review";
export const SCOPE_BASE = "SCOPEROOT";

export interface SarifOptions {
  /** pod's version (src/version.ts). */
  version: string;
  /** The scope root's absolute path. */
  scopeRoot: string;
}

export function toSarif(review: Findings, opts: SarifOptions): Record<string, unknown> {
  const ruleIds = [...new Set(review.findings.map((f) => f.rule ?? DEFAULT_RULE))];
  const ruleIndex = new Map(ruleIds.map((id, i) => [id, i]));
  const rules = ruleIds.map((id) =>
    id === DEFAULT_RULE ? { id, shortDescription: { text: "A finding of a pod review that names no rule." } } : { id },
  );
  const base = pathToFileURL(opts.scopeRoot).href;
  return {
    $schema: SARIF_SCHEMA,
    version: "2.1.0",
    runs: [
      {
        tool: { driver: { name: "pod", version: opts.version, ...(isSemver(opts.version) ? { semanticVersion: opts.version } : {}), rules } },
        originalUriBaseIds: { [SCOPE_BASE]: { uri: base.endsWith("/") ? base : `${base}/` } },
        results: review.findings.map((f) => {
          const id = f.rule ?? DEFAULT_RULE;
          return {
            ruleId: id,
            ruleIndex: ruleIndex.get(id)!,
            level: f.severity,
            message: { text: f.message },
            locations: [
              {
                physicalLocation: {
                  artifactLocation: { uri: relativeUri(f.path), uriBaseId: SCOPE_BASE },
                  region: { startLine: f.line, ...(f.end_line !== undefined ? { endLine: f.end_line } : {}) },
                },
              },
            ],
          };
        }),
        properties: { summary: review.summary },
      },
    ],
  };
}

/** A relative path as a URI reference: each segment percent-encoded ("my file.ts" → "my%20file.ts"). */
export function relativeUri(rel: string): string {
  return rel.split("/").map(encodeURIComponent).join("/");
}

function isSemver(v: string): boolean {
  return /^\d+\.\d+\.\d+(?:-[0-9A-Za-z.-]+)?(?:\+[0-9A-Za-z.-]+)?$/.test(v);
}
