import { spawnSync } from "node:child_process";
import { mkdir, mkdtemp, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import path from "node:path";
import { describe, expect, it } from "vitest";
import { POD_BIN } from "../helpers/pod-process.js";

/**
 * `pod status` is a polling loop's command and must start nearly as fast as node itself
 * (bench/results.md, "Cold start"). node:crypto and node:fs/promises are not in Node's
 * start-up snapshot: either one loaded again would cost it 2–4 ms (scripts/build.mjs,
 * lazyBuiltins). Which built-in modules a process loaded is a fact, not a timing.
 */
const PRELOAD = `process.on("exit", () => require("node:fs").writeSync(2, "\\nLOADED " + JSON.stringify(process.moduleLoadList) + "\\n"));\n`;

/** `pod <args>` in `cwd`, and the built-in modules its process had loaded when it exited. */
async function loadedBy(cwd: string, args: string[]): Promise<{ stdout: string; modules: string[] }> {
  const preload = path.join(cwd, "preload.cjs");
  await writeFile(preload, PRELOAD);
  const r = spawnSync(process.execPath, ["-r", preload, POD_BIN, ...args], { cwd, encoding: "utf8", env: { PATH: process.env.PATH, HOME: cwd } });
  expect(r.status, r.stderr).toBe(0);
  const line = /\nLOADED (.*)\n/.exec(r.stderr);
  expect(line, r.stderr).not.toBeNull();
  return { stdout: r.stdout, modules: JSON.parse(line![1]!) as string[] };
}

describe("pod status's start", () => {
  it.each([
    ["a pod that has never run", false],
    ["a pod with a status.json and a [scope]", true],
  ])("%s loads neither node:crypto nor node:fs/promises", async (_, ran) => {
    const dir = await mkdtemp(path.join(tmpdir(), "pod-status-start-"));
    await writeFile(path.join(dir, "pod.toml"), `[pod]\nname = "st"\n${ran ? '\n[scope]\nroot = "."\n' : ""}`);
    if (ran) {
      await mkdir(path.join(dir, ".pod", "st"), { recursive: true });
      const status = {
        pod: "st",
        session_id: "20260101T000000Z-abcdef",
        status: "idle",
        turn: 1,
        last_result: "finished",
        usage: { input_tokens: 1, output_tokens: 1, cache_read_input_tokens: 0, cache_creation_input_tokens: 0 },
        cost_usd: 0,
        pending: null,
        updated_at: "2026-01-01T00:00:00.000Z",
      };
      await writeFile(path.join(dir, ".pod", "st", "status.json"), JSON.stringify(status));
    }
    const r = await loadedBy(dir, ["status"]);
    expect(JSON.parse(r.stdout)).toMatchObject({ pod: "st", session_id: ran ? "20260101T000000Z-abcdef" : null });
    expect(r.modules).toContain("NativeModule fs");
    expect(r.modules.filter((m) => /^NativeModule (crypto|fs\/promises|internal\/crypto\/|internal\/fs\/promises)/.test(m))).toEqual([]);
  });
});
