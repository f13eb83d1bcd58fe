import { mkdirSync, mkdtempSync, realpathSync, symlinkSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { describe, expect, it } from "vitest";
import { findingsChecker, type Finding } from "../../src/review/findings.js";

/** The scope's test of each finding (src/review/findings.ts), on a real tree. */
function scope(): string {
  const dir = realpathSync(mkdtempSync(path.join(tmpdir(), "pod-findings-")));
  const w = (rel: string, data: string) => {
    mkdirSync(path.dirname(path.join(dir, rel)), { recursive: true });
    writeFileSync(path.join(dir, rel), data);
  };
  w("a.txt", "1\n2\n3\n");
  w("no-newline.txt", "1\n2");
  w("empty.txt", "");
  w(".env", "SECRET\n");
  w("secrets/key.pem", "k\n");
  w(".pod/tester/status.json", "{}\n");
  symlinkSync(".env", path.join(dir, "env-link"));
  symlinkSync("/etc/hostname", path.join(dir, "outside-link"));
  symlinkSync("a.txt", path.join(dir, "a-link"));
  return dir;
}

const f = (p: string, line: number, end_line?: number): Finding => ({ path: p, line, ...(end_line ? { end_line } : {}), severity: "note", message: "m" });

describe("findings against the scope", () => {
  const dir = scope();
  const check = findingsChecker({ root: dir, deny: [".env*", "secrets/**"], hidden: [path.join(dir, ".pod")] });
  const problems = (...findings: Finding[]) => check({ summary: "s", findings });

  it("accepts lines that exist, a last line without a newline, and a symlink to a file in the scope", () => {
    expect(problems(f("a.txt", 1), f("a.txt", 3), f("a.txt", 1, 3), f("no-newline.txt", 2), f("a-link", 3))).toBeUndefined();
  });

  it("refuses lines past the end (an empty file has none) and a range that ends before it starts", () => {
    expect(problems(f("a.txt", 4))).toBe("findings[0]: line 4 is past the end of a.txt (3 lines)");
    expect(problems(f("no-newline.txt", 3))).toContain("(2 lines)");
    expect(problems(f("empty.txt", 1))).toContain("past the end of empty.txt (0 lines)");
    expect(problems(f("a.txt", 2, 1))).toBe("findings[0]: end_line 1 is before line 2");
    expect(problems(f("a.txt", 2, 9))).toBe("findings[0]: end_line 9 is past the end of a.txt (3 lines)");
  });

  it("answers denied, hidden, missing, outside and linked-to-denied files alike: not a file in the workspace", () => {
    for (const p of [".env", "secrets/key.pem", ".pod/tester/status.json", "nope.txt", "env-link", "outside-link", "secrets"]) {
      expect(problems(f(p, 1)), p).toBe(`findings[0]: path ${JSON.stringify(p)} is not a file in the workspace`);
    }
  });

  it("wants plain relative paths", () => {
    for (const p of ["/etc/passwd", "../x", "./a.txt", "a//a.txt", "src/", "a\\b"]) expect(problems(f(p, 1)), p).toMatch(/must be relative to the workspace root/);
  });
});
