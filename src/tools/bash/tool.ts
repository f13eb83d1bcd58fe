import { z } from "zod";
import type { Protection } from "../../policy/protection.js";
import { commandEnv, detectSandbox, expandHome, hiddenPathHint, hostSystem, NOTHING_PROTECTED, runConfined, type SandboxPolicy } from "../../sandbox/index.js";
import { deny } from "../denial.js";
import { fail, OUTPUT_CAP_CHARS } from "../text.js";
import type { BashConfig, Tool } from "../types.js";
import { Allowlist } from "./allowlist.js";
import { toolIdentity } from "../registry.js";

const Input = z.object({
  command: z.string().min(1).describe("The command to run (must match one of the pod's allowed commands)"),
  timeout_s: z.number().positive().optional().describe("Timeout in seconds (at most the pod's limit)"),
});

/**
 * Bash: an allowed command (allowlist.ts, matched on a parse of the command) run with
 * `bash -c` in the scope root inside the OS sandbox (src/sandbox/), whose view of the
 * scope is the protection policy's (src/policy/) — the same one the file tools obey.
 * With sandbox = "required" (the default) and no sandbox able to start, every call is
 * refused with `sandbox_unavailable`: never unconfined.
 */
export function bashTool(protection: Protection, config: BashConfig): Tool<z.infer<typeof Input>> {
  const allowlist = new Allowlist(config.allow);
  // Load the parser (WebAssembly, a few hundred ms on a busy machine), the patterns and
  // the sandbox's view of the scope (one walk) now, while the first model request is in
  // flight, not at the first Bash call.
  void allowlist.invalidPatterns().catch(() => {});
  if (config.sandbox !== "off") void protection.prepare().catch(() => {});
  const read = (config.read ?? []).map((p) => expandHome(p));
  const net = config.network === true ? "has network access" : Array.isArray(config.network) ? `can reach only ${config.network.join(", ")} (through HTTP(S)_PROXY)` : "has no network";
  return {
    ...toolIdentity("Bash"),
    description:
      `Run a shell command in the workspace root, inside a sandbox: only the workspace is writable, it ${net}, /tmp is private and empty at each call, and outside the workspace only the system's directories${read.length ? ` and ${read.join(", ")}` : ""} are visible. ` +
      `Only these commands are allowed: ${config.allow.map((a) => JSON.stringify(a)).join(", ") || "(none)"} (a final * stands for one or more arguments). ` +
      `Arguments must be literal: no $variables, $(…), globs or ~; quote them instead. No chaining or redirection unless a pattern has it. Timeout ${config.timeout_s}s.`,
    inputSchema: Input,
    async run(input, ctx) {
      const command = input.command.trim();
      const decision = await allowlist.check(command);
      if (!decision.allowed) {
        const bad = await allowlist.invalidPatterns();
        return deny(
          `Command not allowed: ${command}\nWhy: ${decision.why}\nAllowed commands: ${config.allow.join(" | ") || "(none)"}` +
            (bad.length ? `\nThese patterns of the manifest cannot be used: ${bad.join("; ")}` : ""),
        );
      }
      const sandbox = await detectSandbox(config.sandbox);
      if (!sandbox.ok) return deny(`${sandbox.error.code}: ${sandbox.error.full}`);
      const timeoutS = Math.min(input.timeout_s ?? config.timeout_s, config.timeout_s);
      let policy: SandboxPolicy;
      try {
        policy = {
          writable: [protection.root],
          read,
          protect: sandbox.kind === "off" ? NOTHING_PROTECTED : await protection.sandboxView(ctx.signal),
          network: config.network,
        };
      } catch (err) {
        if (ctx.signal.aborted) return fail("cancelled before the command started");
        return fail(`The sandbox's view of the workspace could not be computed (${(err as Error).message}); nothing was run.`);
      }
      let r;
      try {
        r = await runConfined({ kind: sandbox.kind, policy, argv: ["bash", "-c", command], cwd: protection.root, env: commandEnv(config), timeoutMs: timeoutS * 1000, signal: ctx.signal, cap: OUTPUT_CAP_CHARS });
      } catch (err) {
        // A policy this machine cannot enforce (network = true without the seccomp filter): refused, like a missing sandbox.
        const e = err as { code?: string; full?: string; message: string };
        return e.full ? deny(`${e.code}: ${e.full}`) : fail(`Could not start the sandbox: ${e.message}`);
      }
      if (r.error) return fail(r.error);
      const sep = r.output === "" || r.output.endsWith("\n") ? "" : "\n";
      if (r.stopped) return { output: `${r.output}${sep}[command ${r.stopped}; all its processes were killed]`, isError: true, truncated: r.truncated };
      const hint = sandbox.kind === "bwrap" ? await hiddenPathHint({ output: r.output, command, exitCode: r.code, policy, host: hostSystem() }).catch(() => undefined) : undefined;
      return { output: `${r.output}${sep}${hint ? `${hint}\n` : ""}[exit code: ${r.code ?? `signal ${r.signal}`}]`, isError: false, truncated: r.truncated };
    },
  };
}
