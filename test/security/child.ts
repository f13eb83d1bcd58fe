import { spawn } from "node:child_process";
import path from "node:path";
import type { ScopeConfig, ToolResult } from "../../src/tools/types.js";

const CHILD = path.join(import.meta.dirname, "fixtures/tool-child.ts");

export interface ChildRun {
  result: ToolResult;
  maxRssKb: number;
}

/**
 * One tool call in a child process. A call that has not returned after `hangMs`
 * is a hang: the child is killed and this rejects, so a blocking tool fails the
 * test instead of stalling vitest. (A hang guard, not a speed assertion.)
 */
export function runToolInChild(scope: ScopeConfig, tool: string, input: unknown, hangMs = 30_000): Promise<ChildRun> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, ["--import", "tsx", CHILD, JSON.stringify(scope), tool, JSON.stringify(input)], { stdio: ["ignore", "pipe", "pipe"] });
    let out = "";
    let err = "";
    child.stdout.on("data", (d) => (out += d));
    child.stderr.on("data", (d) => (err += d));
    const timer = setTimeout(() => {
      child.kill("SIGKILL");
      reject(new Error(`${tool} ${JSON.stringify(input)} did not return within ${hangMs} ms (hang)`));
    }, hangMs);
    child.on("close", (code) => {
      clearTimeout(timer);
      if (code !== 0) return reject(new Error(`tool child exited ${code}: ${err}`));
      try {
        resolve(JSON.parse(out) as ChildRun);
      } catch {
        reject(new Error(`tool child printed no result: ${out} ${err}`));
      }
    });
  });
}
