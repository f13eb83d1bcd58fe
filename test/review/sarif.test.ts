import { describe, expect, it } from "vitest";
import { DEFAULT_RULE, toSarif } from "../../src/review/sarif.js";
import type { Findings } from "../../src/review/findings.js";
import { sarifSchemaErrors } from "../helpers/sarif.js";

/** pod's SARIF against the official OASIS schemas (test/fixtures/sarif/), and the mapping docs/review.md states. */
const review: Findings = {
  summary: "Two problems.",
  findings: [
    { path: "src/a.ts", line: 1, severity: "error", rule: "sql-injection", message: "m1" },
    { path: "src/a.ts", line: 4, end_line: 9, severity: "warning", rule: "sql-injection", message: "m2" },
    { path: "docs/ü ber#1.md", line: 2, severity: "note", message: "m3" },
  ],
};

describe("SARIF 2.1.0", () => {
  it("validates against the official schemas (draft-07 and the OASIS Standard's draft-04 copy)", () => {
    expect(sarifSchemaErrors(toSarif(review, { version: "0.1.0", scopeRoot: "/work/my repo" }))).toEqual([]);
    // A development build's version is not semver-shaped the same way: still valid.
    expect(sarifSchemaErrors(toSarif(review, { version: "0.0.0-dev", scopeRoot: "/w" }))).toEqual([]);
    expect(sarifSchemaErrors(toSarif({ summary: "none", findings: [] }, { version: "0.1.0", scopeRoot: "/w" }))).toEqual([]);
  });

  it("the validator rejects what the schema forbids (so the tests above can fail)", () => {
    const log = toSarif(review, { version: "0.1.0", scopeRoot: "/w" }) as any;
    const broken = structuredClone(log);
    broken.runs[0].results[0].level = "fatal";
    broken.runs[0].results[1].locations[0].physicalLocation.region.startLine = 0;
    delete broken.runs[0].tool.driver.name;
    const errors = sarifSchemaErrors(broken);
    expect(errors.join("\n")).toMatch(/level/);
    expect(errors.join("\n")).toMatch(/startLine/);
    expect(errors.join("\n")).toMatch(/name/);
    expect(sarifSchemaErrors({ ...log, version: "2.0.0" })).not.toEqual([]);
  });

  it("maps rules, levels, regions and paths", () => {
    const run = (toSarif(review, { version: "1.2.3", scopeRoot: "/work/my repo" }) as any).runs[0];
    expect(run.tool.driver).toEqual({
      name: "pod",
      version: "1.2.3",
      semanticVersion: "1.2.3",
      rules: [{ id: "sql-injection" }, { id: DEFAULT_RULE, shortDescription: { text: expect.any(String) } }],
    });
    expect(run.originalUriBaseIds).toEqual({ SCOPEROOT: { uri: "file:///work/my%20repo/" } });
    expect(run.results.map((r: any) => [r.ruleId, r.ruleIndex, r.level, r.message.text])).toEqual([
      ["sql-injection", 0, "error", "m1"],
      ["sql-injection", 0, "warning", "m2"],
      [DEFAULT_RULE, 1, "note", "m3"],
    ]);
    expect(run.results[1].locations[0].physicalLocation.region).toEqual({ startLine: 4, endLine: 9 });
    expect(run.results[2].locations[0].physicalLocation.artifactLocation).toEqual({ uri: "docs/%C3%BC%20ber%231.md", uriBaseId: "SCOPEROOT" });
    expect(run.properties).toEqual({ summary: "Two problems." });
  });
});
