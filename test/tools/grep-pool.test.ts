import { mkdirSync, writeFileSync } from "node:fs";
import { afterAll, describe, expect, it } from "vitest";
import { grepFiles, type GrepInput } from "../../src/tools/grep.js";
import { compileMatcher, type Matcher } from "../../src/tools/grep-matcher.js";
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
afterAll(() => pool?.close());

async function both(input: GrepInput) {
  const m = compileMatcher(input.pattern, input.case_insensitive ?? false) as Matcher;
  const signal = new AbortController().signal;
  let asked = 0;
  const threaded = await grepFiles(fs, base, input, m, signal, () => (asked++, pool));
  const single = await grepFiles(fs, base, input, m, signal);
  return { threaded, single, asked };
}

describe("Grep on worker threads", () => {
  it.runIf(pool)("finds exactly what the single-threaded search finds, in every mode", async () => {
    for (const input of [
      { pattern: "needle_\\d+" },
      { pattern: "needle", case_insensitive: true, output_mode: "count" as const },
      { pattern: "NEEDLE shouted", output_mode: "content" as const, context: 1 },
      { pattern: "needle_", type: "ts" },
    ]) {
      const { threaded, single, asked } = await both(input);
      expect(asked, "the pool was used").toBeGreaterThan(0);
      expect(threaded.length, input.pattern).toBeGreaterThan(0);
      expect(threaded).toEqual(single);
      // ignored, denied and binary files are never searched
      expect(threaded.some((h) => /^(build|secret)\//.test(h.rel))).toBe(false);
      expect(threaded.some((h) => h.rel.endsWith("/f7.js"))).toBe(false);
    }
    const { threaded } = await both({ pattern: "needle_\\d+" });
    const expected = Array.from({ length: FILES }, (_, i) => i).filter((i) => i % 41 === 0 && i % 10 !== 9 && i % 400 !== 7);
    expect(threaded.map((h) => h.rel).sort()).toEqual(expected.map((i) => `src/m${i % 37}/f${i}.${i % 3 === 0 ? "ts" : "js"}`).sort());
    // The workers answered: a dead pool would also give the same answers, searched here.
    expect(pool!.usable).toBe(true);
    expect(broken).toEqual([]);
  });

  it.runIf(pool)("searches in its own thread, with the same answer, once the pool is gone", async () => {
    const gone = GrepPool.start()!;
    await gone.close();
    expect(gone.usable).toBe(false);
    const input = { pattern: "needle", case_insensitive: true, output_mode: "count" as const };
    const m = compileMatcher(input.pattern, true) as Matcher;
    const signal = new AbortController().signal;
    expect(await grepFiles(fs, base, input, m, signal, () => gone)).toEqual(await grepFiles(fs, base, input, m, signal));
  });
});
