import { spawn } from "node:child_process";
import { z } from "zod";
import type { ScopedFs } from "./scoped-fs.js";
import { fail, OUTPUT_CAP_CHARS } from "./text.js";
import type { BashConfig, Tool, ToolResult } from "./types.js";

const KILL_GRACE_MS = 2000;
/** Shell syntax that chains or redirects commands: allowed only where an allow pattern spells it out. */
const SHELL_META = [";", "&&", "||", "|", "`", "$(", ">", "<", "\n", "&"];

const Input = z.object({
  command: z.string().min(1).describe("The command to run (must match one of the pod's allowed commands)"),
  timeout_s: z.number().positive().optional().describe("Timeout in seconds (at most the pod's limit)"),
});

/**
 * An allow pattern is an exact command, or a glob where `*` matches any run of
 * characters ("npx vitest run *"). Chaining or redirection (; && | ` $( > < &)
 * is refused unless the pattern itself contains that text.
 */
export function commandAllowed(command: string, allow: readonly string[]): boolean {
  const cmd = command.trim();
  return allow.some((pattern) => {
    for (const meta of SHELL_META) if (cmd.includes(meta) && !pattern.includes(meta)) return false;
    if (!pattern.includes("*")) return cmd === pattern.trim();
    const re = new RegExp(`^${pattern.trim().split("*").map(escapeRegex).join(".*")}$`, "s");
    return re.test(cmd);
  });
}

function escapeRegex(s: string): string {
  return s.replace(/[.*+?^${}()|[\]\\]/g, "\\$&");
}

/** The environment a command sees: pod's own, minus the credentials (they must never reach tool output). */
function commandEnv(): NodeJS.ProcessEnv {
  const env = { ...process.env };
  for (const key of Object.keys(env)) if (/^ANTHROPIC_(API_KEY|AUTH_TOKEN)$/.test(key)) delete env[key];
  return env;
}

/**
 * Bash: runs an allowed command with `bash -c` in the scope root, in its own
 * process group so a timeout or a cancel kills everything it started
 * (SIGTERM, then SIGKILL after a grace period). Output (stdout and stderr
 * interleaved) is capped, keeping the head and the tail, where test failures are.
 */
export function bashTool(fs: ScopedFs, config: BashConfig): Tool<z.infer<typeof Input>> {
  return {
    name: "Bash",
    description: `Run a shell command in the workspace root. Only these commands are allowed: ${config.allow.map((a) => JSON.stringify(a)).join(", ") || "(none)"} (* matches anything). No chaining or redirection unless a pattern allows it. Timeout ${config.timeout_s}s.`,
    inputSchema: Input,
    async run(input, ctx) {
      if (!commandAllowed(input.command, config.allow)) {
        return fail(`Command not allowed: ${input.command}\nAllowed commands: ${config.allow.join(" | ") || "(none)"}`);
      }
      const timeoutS = Math.min(input.timeout_s ?? config.timeout_s, config.timeout_s);
      return runCommand(input.command, fs.root, timeoutS * 1000, ctx.signal);
    },
  };
}

export function runCommand(command: string, cwd: string, timeoutMs: number, signal: AbortSignal): Promise<ToolResult> {
  return new Promise((resolve) => {
    const child = spawn("bash", ["-c", command], { cwd, env: commandEnv(), detached: true, stdio: ["ignore", "pipe", "pipe"] });
    const chunks: Buffer[] = [];
    let size = 0;
    let dropped = 0;
    const tail: Buffer[] = [];
    let tailSize = 0;
    const headCap = OUTPUT_CAP_CHARS / 2;
    const onData = (d: Buffer) => {
      if (size < headCap) {
        chunks.push(d);
        size += d.length;
        return;
      }
      tail.push(d);
      tailSize += d.length;
      while (tailSize - tail[0]!.length > headCap) {
        dropped += tail[0]!.length;
        tailSize -= tail.shift()!.length;
      }
    };
    child.stdout!.on("data", onData);
    child.stderr!.on("data", onData);

    let reason: string | undefined;
    const killGroup = (why: string) => {
      if (reason) return;
      reason = why;
      try {
        process.kill(-child.pid!, "SIGTERM");
      } catch {}
      setTimeout(() => {
        try {
          process.kill(-child.pid!, "SIGKILL");
        } catch {}
      }, KILL_GRACE_MS).unref();
    };
    const timer = setTimeout(() => killGroup(`timed out after ${Math.round(timeoutMs / 1000)}s`), timeoutMs);
    const onAbort = () => killGroup("cancelled");
    signal.addEventListener("abort", onAbort, { once: true });
    if (signal.aborted) onAbort();

    child.on("error", (err) => {
      clearTimeout(timer);
      signal.removeEventListener("abort", onAbort);
      resolve(fail(`Could not start bash: ${err.message}`));
    });
    child.on("close", (code, sig) => {
      clearTimeout(timer);
      signal.removeEventListener("abort", onAbort);
      // Make sure nothing the command left in its group outlives it.
      try {
        process.kill(-child.pid!, "SIGKILL");
      } catch {}
      let output = Buffer.concat(chunks).toString("utf8");
      if (dropped > 0) output += `\n[… ${dropped} bytes of output omitted …]\n`;
      output += Buffer.concat(tail).toString("utf8");
      const truncated = dropped > 0;
      if (reason) resolve({ output: `${output}\n[command ${reason}; its process group was killed]`, isError: true, truncated });
      else resolve({ output: `${output}${output.endsWith("\n") || output === "" ? "" : "\n"}[exit code: ${code ?? `signal ${sig}`}]`, isError: false, truncated });
    });
  });
}
