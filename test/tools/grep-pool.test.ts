import { mkdirSync, writeFileSync } from "node:fs";
import { afterAll, describe, expect, it } from "vitest";
import { FILE_TYPES, grepFiles, type GrepInput } from "../../src/tools/grep.js";
import { compileMatcher, FileReader, type Matcher } from "../../src/tools/grep-matcher.js";
import { searchBatch } from "../../src/tools/grep-search.js";
import { walkFiles, type WalkedFile } from "../../src/tools/walk.js";
import { GrepPool } from "../../src/tools/grep-pool.js";
import { ScopedFs } from "../../src/tools/scoped-fs.js";
import { sandbox } from "./helpers.js";

// A tree past the size at which Grep hands files to worker threads (2000), with
// ignored, denied, binary and matching files spread through it.
const FILES = 3000;
const sb = await sandbox();
writeFileSync(`${sb.root}/.gitignore`, "build/\n");
for (let i = 0; i < FILES; i++) {
  const dir = `${sb.root}/${i % 10 === 9 ? "build" : `src/m${i % 37}`}`;
  mkdirSync(dir, { recursive: true });
  let text = `line one of ${i}\n`;
  if (i % 41 === 0) text += `const needle_${i} = find(it);\n`;
  if (i % 53 === 0) text += `NEEDLE shouted in ${i}\nand needle again\n`;
  if (i % 400 === 7) text = `\0binary needle_\n${text}`;
  writeFileSync(`${dir}/f${i}.${i % 3 === 0 ? "ts" : "js"}`, text);
}
mkdirSync(`${sb.root}/secret`);
writeFileSync(`${sb.root}/secret/keys.ts`, "needle_ in a denied file\n");

const fs = new ScopedFs({ root: sb.root, deny: ["secret/**"], readOnly: [], hidden: [] });
const base = { abs: sb.root, rel: "" };
const broken: Error[] = [];
const pool = GrepPool.start((err) => broken.push(err));
afterAll(() => pool.close());

/** The pool's answer, and the same search done file by file in this thread (a test may run the regex here). */
async function both(input: GrepInput) {
  const m = compileMatcher(input.pattern, input.case_insensitive ?? false, input.multiline ?? false) as Matcher;
  const found = await grepFiles(fs, base, input, pool, new AbortController().signal);
  const files: WalkedFile[] = [];
  await walkFiles(fs, sb.root, (f) => void files.push(...f));
  const spec = { pattern: input.pattern, caseInsensitive: input.case_insensitive ?? false, multiline: input.multiline ?? false, mode: input.output_mode ?? "files_with_matches", context: input.context ?? 0 };
  const exts = input.type ? FILE_TYPES[input.type]! : undefined;
  const wanted = files.filter((f) => !exts || exts.some((e) => f.rel.endsWith(`.${e}`)));
  const single = searchBatch(new FileReader(), { prefix: `${sb.root}/`, rel: wanted.map((f) => f.rel) }, m, spec);
  single.sort((a, b) => (a.rel < b.rel ? -1 : 1));
  return { threaded: found.hits, single, found };
}

describe("Grep on worker threads", () => {
  it("finds exactly what a file-by-file search finds, in every mode", async () => {
    for (const input of [
      { pattern: "needle_\\d+" },
      { pattern: "needle", case_insensitive: true, output_mode: "count" as const },
      { pattern: "NEEDLE shouted", output_mode: "content" as const, context: 1 },
      { pattern: "needle_", type: "ts" },
    ]) {
      const { threaded, single, found } = await both(input);
      expect(found.stopped).toBeUndefined();
      expect(found.unsearched).toBe(0);
      expect(threaded.length, input.pattern).toBeGreaterThan(0);
      expect(threaded).toEqual(single);
      // ignored, denied and binary files are never searched
      expect(threaded.some((h) => /^(build|secret)\//.test(h.rel))).toBe(false);
      expect(threaded.some((h) => h.rel.endsWith("/f7.js"))).toBe(false);
    }
    const { threaded } = await both({ pattern: "needle_\\d+" });
    const expected = Array.from({ length: FILES }, (_, i) => i).filter((i) => i % 41 === 0 && i % 10 !== 9 && i % 400 !== 7);
    expect(threaded.map((h) => h.rel).sort()).toEqual(expected.map((i) => `src/m${i % 37}/f${i}.${i % 3 === 0 ? "ts" : "js"}`).sort());
    expect(pool.usable).toBe(true);
    expect(broken).toEqual([]);
  });

  it("works on after a call is stopped: the stopped workers are replaced", async () => {
    const cancel = new AbortController();
    const call = grepFiles(fs, base, { pattern: "needle_\\d+" }, pool, cancel.signal);
    cancel.abort();
    expect((await call).stopped).toBe("cancelled");
    const { threaded, single } = await both({ pattern: "needle_\\d+" });
    expect(threaded).toEqual(single);
    expect(broken).toEqual([]);
  });
});
