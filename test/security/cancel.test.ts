import { mkdir, open, readFile, writeFile } from "node:fs/promises";
import path from "node:path";
import { beforeAll, describe, expect, it } from "vitest";
import { createToolbox } from "../../src/tools/index.js";
import type { Tool, ToolResult } from "../../src/tools/types.js";
import { sandbox, type Sandbox } from "../tools/helpers.js";

/**
 * `pod cancel` must always work (SPEC "Containment"): every file tool stops within
 * 2 s of the run's signal being aborted, and says it was cancelled rather than
 * passing a partial answer off as the whole one.
 */
let sb: Sandbox;
let byName: Record<string, Tool>;

beforeAll(async () => {
  sb = await sandbox({ "small.txt": "hello\n" });
  // A wide tree: long enough to walk that a cancel lands in the middle of it.
  for (let d = 0; d < 200; d++) {
    const dir = path.join(sb.root, "tree", `d${d}`);
    await mkdir(dir, { recursive: true });
    await Promise.all(Array.from({ length: 100 }, (_, f) => writeFile(path.join(dir, `f${f}.txt`), "x\n")));
  }
  const fh = await open(path.join(sb.root, "big.txt"), "w");
  const block = Buffer.from("y".repeat(99) + "\n");
  const chunk = Buffer.concat(Array.from({ length: 10_000 }, () => block)); // 1 MB of short lines
  for (let i = 0; i < 200; i++) await fh.write(chunk);
  await fh.close();
  const box = await createToolbox({ root: sb.root, deny: [], readOnly: [], hidden: [] }, { enabled: false, allow: [], timeout_s: 10, sandbox: "off", network: false, env: [] });
  byName = Object.fromEntries(box.tools.map((t) => [t.name, t]));
}, 120_000);

/** Runs a tool, aborts after `afterMs`, and returns its result and how long it took to stop after the abort. */
async function cancelled(name: string, input: unknown, afterMs: number): Promise<{ r: ToolResult; stopMs: number }> {
  const ac = new AbortController();
  const tool = byName[name]!;
  let abortedAt = 0;
  const timer = setTimeout(() => {
    abortedAt = performance.now();
    ac.abort();
  }, afterMs);
  const r = await tool.run(tool.inputSchema.parse(input), { signal: ac.signal });
  clearTimeout(timer);
  return { r, stopMs: abortedAt === 0 ? 0 : performance.now() - abortedAt };
}

describe("every file tool respects cancel", () => {
  it("Glob stops walking a 20 000-file tree and reports the cancel, not a partial list", async () => {
    const { r, stopMs } = await cancelled("Glob", { pattern: "**/*.txt" }, 5);
    expect(r.isError, r.output.slice(0, 200)).toBe(true);
    expect(r.output).toMatch(/cancelled/);
    expect(stopMs).toBeLessThan(2000);
  });

  it("Read stops scanning a 200 MB file for a far offset", async () => {
    const { r, stopMs } = await cancelled("Read", { path: "big.txt", offset: 1_999_999 }, 20);
    expect(r.isError, r.output.slice(0, 200)).toBe(true);
    expect(r.output).toMatch(/cancelled/);
    expect(stopMs).toBeLessThan(2000);
  });

  it("Write and Edit do nothing once cancelled", async () => {
    const ac = new AbortController();
    await byName.Read!.run({ path: "small.txt" }, { signal: ac.signal });
    ac.abort();
    const w = await byName.Write!.run({ path: "small.txt", content: "changed\n" }, { signal: ac.signal });
    const e = await byName.Edit!.run({ path: "small.txt", old_string: "hello", new_string: "bye" }, { signal: ac.signal });
    expect(w.isError && e.isError).toBe(true);
    expect(await readFile(path.join(sb.root, "small.txt"), "utf8")).toBe("hello\n");
  });
});
