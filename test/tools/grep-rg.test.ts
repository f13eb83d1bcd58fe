// Grep's match sets against ripgrep's own, on a fixture tree built to hit the places
// where JavaScript regex semantics and rg's differ: newlines inside \s, [^x], \W and
// \D; "." and "$" around \r; ^ and $ at line ends; empty matches; a last line with
// no newline. rg is required (CI installs it): a comparison that skips is no test.
import { execFileSync, spawnSync } from "node:child_process";
import { mkdirSync, writeFileSync } from "node:fs";
import { afterAll, describe, expect, it } from "vitest";
import { grepFiles, type GrepInput } from "../../src/tools/grep/index.js";
import { compileMatcher } from "../../src/tools/grep/matcher.js";
import { GrepPool } from "../../src/tools/grep/pool.js";
import { ScopedFs } from "../../src/tools/scoped-fs.js";
import { sandbox } from "./helpers.js";

const sb = await sandbox();
const files: Record<string, string> = {
  "src/imports.ts": 'import {\n  a,\n  b } from "x";\nimport { c } from "y";\nimport   {d}   from "z"\n',
  "src/crlf.js": "function foo() {\r\n  return errors = 1;\r\n}\r\nconst error = 2;\r\n",
  "src/mixed.py": "def readSync(x):\n\treturn fs.readFileSync(x)\nerr=1\nerror =2\n\n\nlast line no newline",
  "src/uni.txt": "café au lait\nnaïve résumé\nx\u00a0y\nend\n",
  "src/blank.txt": "\n\n\n",
  "src/empty.txt": "",
  "src/cr.txt": "one\rtwo\nthree\r\n",
  "lib/deep/code.go": "func main() {\n\tx := []int{1,\n 2}\n\tif err != nil { return err }\n}\n",
};
for (const [rel, text] of Object.entries(files)) {
  mkdirSync(`${sb.root}/${rel.slice(0, rel.lastIndexOf("/"))}`, { recursive: true });
  writeFileSync(`${sb.root}/${rel}`, text);
}
const fs = new ScopedFs({ root: sb.root, deny: [], readOnly: [], hidden: [] });
const pool = GrepPool.start();
afterAll(() => pool.close());

const hasRg = spawnSync("rg", ["--version"]).status === 0;

/** "path:line" for every matching line, from rg's own output. */
function rgLines(pattern: string, flags: string[]): string[] {
  const r = spawnSync("rg", ["-n", "--no-heading", "--color", "never", "--hidden", "--no-messages", ...flags, "-e", pattern, "."], { cwd: sb.root, encoding: "utf8" });
  if (r.status !== 0 && r.status !== 1) throw new Error(`rg: ${r.stderr}`);
  return r.stdout
    .split("\n")
    .filter(Boolean)
    .map((l) => /^\.\/(.*?):(\d+):/.exec(l)!)
    .map((m) => `${m[1]}:${m[2]}`)
    .sort();
}

async function podLines(input: GrepInput): Promise<string[]> {
  const found = await grepFiles(fs, { abs: sb.root, rel: "" }, { ...input, output_mode: "content" }, pool, new AbortController().signal);
  expect(found.stopped).toBeUndefined();
  return found.hits
    .flatMap((h) => h.lines)
    .map((l) => /^(.*?):(\d+):/.exec(l))
    .filter((m): m is RegExpExecArray => m !== null)
    .map((m) => `${m[1]}:${m[2]}`)
    .sort();
}

const PATTERNS = [
  "import\\s+\\{[^}]*\\}\\s+from",
  "\\w+Sync\\(",
  "err(or)?\\s*=",
  "return",
  "o.$",
  "\\}$",
  "^\\s*$",
  "^",
  "x*",
  "[^a-z]+$",
  "\\W+",
  "\\D{3,}",
  "[\\s,]+2",
  "caf.",
  "r\\S+",
  "\\s\\s",
  "two$",
  "^three",
  "[^\\n]*line",
];

describe.runIf(hasRg || process.env.CI)("Grep matches what ripgrep matches", () => {
  it("rg is installed (CI installs it; this comparison must not skip)", () => {
    expect(execFileSync("rg", ["--version"], { encoding: "utf8" })).toMatch(/ripgrep/);
  });

  it.each(PATTERNS)("line-oriented: %s", async (pattern) => {
    expect(await podLines({ pattern })).toEqual(rgLines(pattern, []));
  });

  it.each(PATTERNS)("multiline (rg -U): %s", async (pattern) => {
    expect(await podLines({ pattern, multiline: true })).toEqual(rgLines(pattern, ["-U"]));
  });

  it.each(["IMPORT", "ERR(OR)?\\s*=", "Café", "readsync"])("case-insensitive: %s", async (pattern) => {
    expect(await podLines({ pattern, case_insensitive: true })).toEqual(rgLines(pattern, ["-i"]));
  });

  it("the same files in files_with_matches mode", async () => {
    for (const pattern of PATTERNS) {
      const found = await grepFiles(fs, { abs: sb.root, rel: "" }, { pattern }, pool, new AbortController().signal);
      const rg = [...new Set(rgLines(pattern, []).map((l) => l.replace(/:\d+$/, "")))].sort();
      expect(found.hits.map((h) => h.rel), pattern).toEqual(rg);
    }
  });

  it("the same per-file counts in count mode (rg -c)", async () => {
    for (const pattern of PATTERNS) {
      const found = await grepFiles(fs, { abs: sb.root, rel: "" }, { pattern, output_mode: "count" }, pool, new AbortController().signal);
      const counts = new Map<string, number>();
      for (const l of rgLines(pattern, [])) counts.set(l.replace(/:\d+$/, ""), (counts.get(l.replace(/:\d+$/, "")) ?? 0) + 1);
      expect(found.hits.map((h) => `${h.rel}:${h.count}`), pattern).toEqual([...counts].map(([f, n]) => `${f}:${n}`).sort());
    }
  });

  it("refuses a literal newline in line mode, as rg does, and points at multiline", () => {
    for (const pattern of ["a\\nb", "[\\n]", "\\x0a"]) {
      const m = compileMatcher(pattern, false);
      expect("error" in m && m.error, pattern).toMatch(/multiline: true/);
      expect(spawnSync("rg", ["-e", pattern, "."], { cwd: sb.root }).status, pattern).toBe(2);
    }
    expect("error" in compileMatcher("a\\nb", false, true)).toBe(false);
  });
});
