import { execFileSync } from "node:child_process";
import { mkdtempSync, readFileSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { describe, expect, it } from "vitest";
import { toSarif } from "../../src/review/sarif.js";
import type { Findings } from "../../src/review/findings.js";
import { REPO_ROOT } from "../helpers/pod-process.js";
import { sarifSchemaErrors } from "../helpers/sarif.js";

/** The shell commands docs/review.md gives for GitLab and GitHub, run as written on a review's findings. */
const DOC = readFileSync(path.join(REPO_ROOT, "docs/review.md"), "utf8");

function block(heading: string, starts: string): string {
  const section = DOC.slice(DOC.indexOf(heading));
  const found = [...section.matchAll(/```sh\n([\s\S]*?)```/g)].map((m) => m[1]!).find((b) => b.startsWith(starts));
  if (!found) throw new Error(`no sh block starting with ${starts} under ${heading} in docs/review.md`);
  return found;
}

const findings: Findings = {
  summary: "s",
  findings: [
    { path: "src/db.js", line: 3, severity: "error", rule: "sql-injection", message: "m1" },
    { path: "src/db.js", line: 5, end_line: 7, severity: "note", message: "m2" },
    { path: "src/db.js", line: 9, severity: "warning", rule: "sql-injection", message: "m3" },
  ],
};

describe("docs/review.md's jq", () => {
  it("GitLab: a code-quality report (CodeClimate issues) from the findings", () => {
    const dir = mkdtempSync(path.join(tmpdir(), "pod-gitlab-"));
    writeFileSync(path.join(dir, "findings.json"), JSON.stringify(findings));
    execFileSync("sh", ["-c", block("## GitLab code quality", "jq ")], { cwd: dir });
    const report = JSON.parse(readFileSync(path.join(dir, "gl-code-quality-report.json"), "utf8"));
    expect(report).toEqual([
      { description: "m1", check_name: "sql-injection", fingerprint: expect.any(String), severity: "major", location: { path: "src/db.js", lines: { begin: 3, end: 3 } } },
      { description: "m2", check_name: "pod-review", fingerprint: expect.any(String), severity: "info", location: { path: "src/db.js", lines: { begin: 5, end: 7 } } },
      { description: "m3", check_name: "sql-injection", fingerprint: expect.any(String), severity: "minor", location: { path: "src/db.js", lines: { begin: 9, end: 9 } } },
    ]);
    // Unique per finding, and the same on the next run.
    expect(new Set(report.map((r: any) => r.fingerprint)).size).toBe(3);
    execFileSync("sh", ["-c", block("## GitLab code quality", "jq ").replace("gl-code-quality-report.json", "again.json")], { cwd: dir });
    expect(JSON.parse(readFileSync(path.join(dir, "again.json"), "utf8"))).toEqual(report);
  });

  it("GitHub: the paths prefixed for a scope below the repository's top, still valid SARIF", () => {
    const dir = mkdtempSync(path.join(tmpdir(), "pod-sarif-prefix-"));
    writeFileSync(path.join(dir, "review.sarif"), JSON.stringify(toSarif(findings, { version: "0.1.0", scopeRoot: "/w/svc" })));
    execFileSync("sh", ["-c", block("## SARIF", "jq ")], { cwd: dir });
    const log = JSON.parse(readFileSync(path.join(dir, "review-repo.sarif"), "utf8"));
    expect(sarifSchemaErrors(log)).toEqual([]);
    expect(log.runs[0].results.map((r: any) => r.locations[0].physicalLocation.artifactLocation.uri)).toEqual(["svc/src/db.js", "svc/src/db.js", "svc/src/db.js"]);
  });
});
