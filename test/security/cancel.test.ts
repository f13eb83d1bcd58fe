import { mkdir, open, readFile, writeFile } from "node:fs/promises";
import path from "node:path";
import { beforeAll, describe, expect, it } from "vitest";
import { createToolbox } from "../../src/tools/index.js";
import type { Tool, ToolResult } from "../../src/tools/types.js";
import { sandbox, type Sandbox } from "../tools/helpers.js";

/**
 * `pod cancel` must always work (SPEC "Containment"): every file tool stops soon after
 * the run's signal is aborted (it spends a small part of the whole call's CPU after it),
 * and says it was cancelled rather than passing a partial answer off as the whole one.
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

/** CPU time this process (all its threads: the event loop and libuv's pool) has used, in ms. */
const cpuMs = () => {
  const u = process.cpuUsage();
  return (u.user + u.system) / 1000;
};

/** The CPU a whole, uncancelled call takes: what a tool that ignored the cancel would spend. */
async function wholeCallCpuMs(name: string, input: unknown): Promise<number> {
  const tool = byName[name]!;
  const start = cpuMs();
  await tool.run(tool.inputSchema.parse(input), { signal: new AbortController().signal });
  return cpuMs() - start;
}

/**
 * Runs a tool, aborts after `afterMs`, and returns its result and the CPU it spent after
 * the abort. CPU, not wall time: a loaded machine stretches the wait for a stop, not the
 * work a tool does before it notices.
 */
async function cancelled(name: string, input: unknown, afterMs: number): Promise<{ r: ToolResult; stopCpuMs: number }> {
  const ac = new AbortController();
  const tool = byName[name]!;
  let abortedAt: number | undefined;
  const timer = setTimeout(() => {
    abortedAt = cpuMs();
    ac.abort();
  }, afterMs);
  const r = await tool.run(tool.inputSchema.parse(input), { signal: ac.signal });
  clearTimeout(timer);
  expect(abortedAt, "the call ended before the cancel").toBeDefined();
  return { r, stopCpuMs: cpuMs() - abortedAt! };
}

describe("every file tool respects cancel", () => {
  it("Glob stops walking a 20 000-file tree and reports the cancel, not a partial list", async () => {
    const whole = await wholeCallCpuMs("Glob", { pattern: "**/*.txt" });
    const { r, stopCpuMs } = await cancelled("Glob", { pattern: "**/*.txt" }, 5);
    expect(r.isError, r.output.slice(0, 200)).toBe(true);
    expect(r.output).toMatch(/cancelled/);
    // It stopped rather than finished: a small part of the whole walk's work.
    expect(stopCpuMs, `${stopCpuMs.toFixed(0)} ms of CPU after the cancel; the whole walk takes ${whole.toFixed(0)} ms`).toBeLessThan(whole / 2);
  });

  it("Read stops scanning a 200 MB file for a far offset", async () => {
    const whole = await wholeCallCpuMs("Read", { path: "big.txt", offset: 1_999_999 });
    const { r, stopCpuMs } = await cancelled("Read", { path: "big.txt", offset: 1_999_999 }, 20);
    expect(r.isError, r.output.slice(0, 200)).toBe(true);
    expect(r.output).toMatch(/cancelled/);
    expect(stopCpuMs, `${stopCpuMs.toFixed(0)} ms of CPU after the cancel; the whole scan takes ${whole.toFixed(0)} ms`).toBeLessThan(whole / 2);
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
