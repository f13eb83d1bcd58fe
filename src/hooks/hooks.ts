import { deny } from "../tools/denial.js";
import { capOutput, fail } from "../tools/text.js";
import type { Tool, ToolResult } from "../tools/types.js";
import type { EventSink } from "../events/sink.js";
import type { ManifestData } from "../manifest.js";
import { runHookProcess } from "./run-hook.js";
import type { Pins } from "../contract/pins.js";

export type HookConfig = ManifestData["hooks"];
export type HookName = keyof HookConfig;
type HookSpec = HookConfig[HookName][number];

export interface HookEnv {
  sink: EventSink;
  /** Where hook commands run: the scope root, or the manifest's directory without a scope. */
  cwd: string;
  /** The run's pinned trusted inputs: verified before every hook runs (a changed script never runs). */
  pins?: Pins | undefined;
}

/** Claude Code's names for the events, so hook scripts written for it work unchanged. */
const EVENT_NAME: Record<HookName, string> = { pre_tool_use: "PreToolUse", post_tool_use: "PostToolUse", stop: "Stop" };

/**
 * How many times stop hooks may send the agent back to work in one run. A stop hook
 * that always blocks would otherwise loop until max_turns; after this many, the
 * run ends normally and the hook's later blocks are recorded but not obeyed.
 */
export const MAX_STOP_CONTINUES = 3;

/** `matcher` is a regex on the whole tool name; "" and "*" match every tool. */
export function hookMatches(matcher: string, toolName: string): boolean {
  if (matcher === "" || matcher === "*") return true;
  return new RegExp(`^(?:${matcher})$`).test(toolName);
}

type Verdict = { block: false } | { block: true; reason: string };

/**
 * Runs one hook and records it as a `hook` event. Exit 0 = go on, unless stdout is
 * JSON with {"decision":"block","reason":…}; exit 2 = block with stderr as the reason;
 * any other exit (or a timeout) = a hook error: recorded, and the agent goes on.
 */
async function fire(env: HookEnv, name: HookName, hook: HookSpec, payload: Record<string, unknown>, signal: AbortSignal, toolName?: string): Promise<Verdict> {
  // A script (or the manifest, or any trusted input) that changed since start is not run:
  // the error ends the run (the run loop's own check after the call, or the stop hook's caller).
  const changed = env.pins?.verify();
  if (changed) throw changed;
  // What the hook reads on stdin is output too: a secret a tool printed is not handed on.
  const input = env.sink.redactor.value({ session_id: env.sink.sessionId, hook_event_name: EVENT_NAME[name], cwd: env.cwd, ...payload });
  const r = await runHookProcess(hook.command, input, { cwd: env.cwd, timeoutMs: hook.timeout_s * 1000, signal });
  let verdict: Verdict = { block: false };
  let decision: "allow" | "block" | "error" = "allow";
  let message: string | undefined;
  if (r.exitCode === 0) {
    const said = parseDecision(r.stdout);
    if (said) {
      verdict = { block: true, reason: said };
      decision = "block";
      message = said;
    }
  } else if (r.exitCode === 2) {
    const reason = r.stderr.trim() || `blocked by the ${name} hook \`${hook.command}\``;
    verdict = { block: true, reason };
    decision = "block";
    message = reason;
  } else {
    decision = "error";
    message = r.timedOut ? `timed out after ${hook.timeout_s}s` : r.stderr.trim() || `exited with ${r.exitCode ?? "a signal"}`;
  }
  env.sink.emit("hook", {
    hook: name,
    ...(toolName !== undefined ? { tool_name: toolName } : {}),
    matcher: hook.matcher,
    command: hook.command,
    exit_code: r.exitCode,
    decision,
    duration_ms: r.durationMs,
    ...(message !== undefined ? { message: message.slice(0, 4000) } : {}),
  });
  return verdict;
}

/** {"decision":"block"|"deny","reason":…} or Claude Code's hookSpecificOutput.permissionDecision = "deny". */
function parseDecision(stdout: string): string | undefined {
  const text = stdout.trim();
  if (!text.startsWith("{")) return undefined;
  try {
    const o = JSON.parse(text) as { decision?: string; reason?: string; hookSpecificOutput?: { permissionDecision?: string; permissionDecisionReason?: string } };
    if (o.decision === "block" || o.decision === "deny") return o.reason || "blocked by a hook";
    if (o.hookSpecificOutput?.permissionDecision === "deny") return o.hookSpecificOutput.permissionDecisionReason || "blocked by a hook";
  } catch {
    /* not JSON: plain output, ignored */
  }
  return undefined;
}

/**
 * Wraps tools so pre_tool_use hooks run before each call (and may block it) and
 * post_tool_use hooks after it (and may flag its result). The run loop sees plain
 * tools; hooks are not a special case in it.
 */
export function withToolHooks(tools: Tool[], hooks: HookConfig, env: HookEnv): Tool[] {
  if (hooks.pre_tool_use.length === 0 && hooks.post_tool_use.length === 0) return tools;
  return tools.map((tool) => {
    const pre = hooks.pre_tool_use.filter((h) => hookMatches(h.matcher, tool.name));
    const post = hooks.post_tool_use.filter((h) => hookMatches(h.matcher, tool.name));
    if (pre.length === 0 && post.length === 0) return tool;
    return {
      ...tool,
      // A hook script may do anything: the call is no longer one that changes nothing.
      readOnly: false,
      async run(input, ctx): Promise<ToolResult> {
        for (const h of pre) {
          const v = await fire(env, "pre_tool_use", h, { tool_name: tool.name, tool_input: input }, ctx.signal, tool.name);
          if (v.block) return deny(`Blocked by a pre_tool_use hook: ${v.reason}`);
        }
        // A hook killed by a cancel is a hook error, which would otherwise let the call run.
        if (ctx.signal.aborted) return fail("Not run: the run was cancelled while its pre_tool_use hooks ran.");
        let result = await tool.run(input, ctx);
        for (const h of post) {
          const payload = { tool_name: tool.name, tool_input: input, tool_response: { output: result.output, is_error: result.isError } };
          const v = await fire(env, "post_tool_use", h, payload, ctx.signal, tool.name);
          if (v.block) {
            // The tool has run; the hook's objection goes back with its result.
            const capped = capOutput(`${result.output}\n\n[post_tool_use hook: ${v.reason}]`);
            result = { ...result, ...capped, isError: true, truncated: capped.truncated || result.truncated };
          }
        }
        return result;
      },
    } satisfies Tool;
  });
}

/**
 * The stop hooks of a run: asked when the agent would stop. Returns the message that
 * sends it back to work (a block's reason), or undefined to let it stop. At most
 * MAX_STOP_CONTINUES continues per run (a fresh function per run).
 */
export function stopHooks(hooks: HookConfig, env: HookEnv): ((signal: AbortSignal) => Promise<string | undefined>) | undefined {
  if (hooks.stop.length === 0) return undefined;
  let continues = 0;
  return async (signal) => {
    const reasons: string[] = [];
    for (const h of hooks.stop) {
      const v = await fire(env, "stop", h, { stop_hook_active: continues > 0 }, signal);
      if (v.block) reasons.push(v.reason);
    }
    if (reasons.length === 0 || continues >= MAX_STOP_CONTINUES) return undefined;
    continues++;
    return reasons.join("\n\n");
  };
}
