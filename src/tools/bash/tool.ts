import { z } from "zod";
import { Allowlist } from "./allowlist.js";
import { detectSandbox } from "../../sandbox/detect.js";
import { buildPolicy } from "../../sandbox/policy.js";
import { runSandboxed } from "../../sandbox/run.js";
import type { ScopedFs } from "../scoped-fs.js";
import { fail } from "../text.js";
import type { BashConfig, ScopeConfig, Tool } from "../types.js";

const Input = z.object({
  command: z.string().min(1).describe("The command to run (must match one of the pod's allowed commands)"),
  timeout_s: z.number().positive().optional().describe("Timeout in seconds (at most the pod's limit)"),
});

/**
 * Bash: an allowed command (src/tools/bash/allowlist.ts, matched on a parse of
 * the command) run with `bash -c` in the scope root inside the OS sandbox
 * (src/sandbox/). With sandbox = "required" (the default) and no sandbox
 * able to start, every call is refused with `sandbox_unavailable`: never unconfined.
 */
export function bashTool(fs: ScopedFs, scope: ScopeConfig, config: BashConfig): Tool<z.infer<typeof Input>> {
  const allowlist = new Allowlist(config.allow);
  // Load the parser (WebAssembly, a few hundred ms on a busy machine) and the patterns now,
  // while the first model request is in flight, not at the first Bash call.
  void allowlist.invalidPatterns().catch(() => {});
  const net = config.network === true ? "has network access" : Array.isArray(config.network) ? `can reach only ${config.network.join(", ")} (through HTTP(S)_PROXY)` : "has no network";
  return {
    name: "Bash",
    description:
      `Run a shell command in the workspace root, inside a sandbox: only the workspace is writable, it ${net}, /tmp is private and empty at each call. ` +
      `Only these commands are allowed: ${config.allow.map((a) => JSON.stringify(a)).join(", ") || "(none)"} (a final * stands for one or more arguments). ` +
      `Arguments must be literal: no $variables, $(…), globs or ~; quote them instead. No chaining or redirection unless a pattern has it. Timeout ${config.timeout_s}s.`,
    inputSchema: Input,
    async run(input, ctx) {
      const command = input.command.trim();
      const decision = await allowlist.check(command);
      if (!decision.allowed) {
        const bad = await allowlist.invalidPatterns();
        return fail(
          `Command not allowed: ${command}\nWhy: ${decision.why}\nAllowed commands: ${config.allow.join(" | ") || "(none)"}` +
            (bad.length ? `\nThese patterns of the manifest cannot be used: ${bad.join("; ")}` : ""),
        );
      }
      const sandbox = await detectSandbox(config.sandbox);
      if (!sandbox.ok) return fail(`${sandbox.error.code}: ${sandbox.error.full}`);
      const timeoutS = Math.min(input.timeout_s ?? config.timeout_s, config.timeout_s);
      const policy = await buildPolicy(scope, config, fs);
      return runSandboxed({ kind: sandbox.kind, policy, command, timeoutMs: timeoutS * 1000, signal: ctx.signal });
    },
  };
}
