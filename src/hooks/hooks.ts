import { asPodError, PodError } from "../errors.js";
import { deny } from "../tools/denial.js";
import { capOutput, fail } from "../tools/text.js";
import type { Tool, ToolResult } from "../tools/types.js";
import type { EventBody } from "../events/schema.js";
import type { Redactor } from "../redact/redactor.js";
import type { ManifestData } from "../manifest.js";
import type { Confinement } from "../sandbox/index.js";
import { runHookProcess, type HookProcessResult } from "./run-hook.js";
import type { Pins } from "../contract/pins.js";

export type HookConfig = ManifestData["hooks"];
export type HookName = keyof HookConfig;
export type HookSpec = HookConfig[HookName][number];

/** One hook that ran, as its `hook` event line says it. */
export type HookRecord = EventBody<"hook">;

export interface HookEnv {
  /** The run's Redactor: what a hook reads on stdin is output too. */
  redactor: Redactor;
  /** The session a hook is told it runs in (`session_id` on its stdin). */
  sessionId(): string | null;
  /** Each hook that ran; the runtime prints it as a `hook` line (src/runtime/emit.ts). Hooks emit no events. */
  record(hook: HookRecord): void;
  /** Where hook commands run: the scope root, or the manifest's directory without a scope. */
  cwd: string;
  /** The run's pinned trusted inputs: verified before every hook runs (a changed script never runs). */
  pins?: Pins | undefined;
  /** The sandbox a hook runs in (src/sandbox/confine.ts, bound to the run's protection policy by src/runtime/extensions.ts). */
  confine(hook: HookSpec, name: HookName, signal: AbortSignal): Promise<Confinement>;
  /** After a hook ran: it may have made hardlinks in the scope, so the file tools' inode sets are stale. */
  afterRun?: (() => void) | undefined;
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

/** allow: go on; block: the hook said no; unable: it could not run confined (it fails closed: see the callers). */
type Verdict = { kind: "allow" } | { kind: "block"; reason: string } | { kind: "unable"; error: PodError };

/**
 * Runs one hook and records it (a `hook` event, printed by the runtime). Exit 0 = go on, unless stdout is
 * JSON with {"decision":"block","reason":…}; exit 2 = block with stderr as the reason;
 * any other exit (or a timeout) = a hook error: recorded, and the agent goes on.
 * A hook that cannot run in its sandbox (`sandbox_unavailable`: no bubblewrap and no
 * `sandbox = "off"`, a policy this machine cannot enforce) is `unable`: never run
 * unconfined, and what that means for the call is the caller's (docs/extending.md).
 */
async function fire(env: HookEnv, name: HookName, hook: HookSpec, payload: Record<string, unknown>, signal: AbortSignal, toolName?: string): Promise<Verdict> {
  // A script (or the manifest, or any trusted input) that changed since start is not run:
  // the error ends the run (the run loop's own check after the call, or the stop hook's caller).
  const changed = env.pins?.verify();
  if (changed) throw changed;
  // What the hook reads on stdin is output too: a secret a tool printed is not handed on.
  const input = env.redactor.value({ session_id: env.sessionId(), hook_event_name: EVENT_NAME[name], cwd: env.cwd, ...payload });
  const started = Date.now();
  const event = (e: { exit_code: number | null; decision: "allow" | "block" | "error"; message?: string | undefined }) =>
    env.record({
      hook: name,
      ...(toolName !== undefined ? { tool_name: toolName } : {}),
      matcher: hook.matcher,
      command: hook.command,
      exit_code: e.exit_code,
      decision: e.decision,
      duration_ms: Date.now() - started,
      ...(e.message !== undefined ? { message: e.message.slice(0, 4000) } : {}),
    });
  let r: HookProcessResult;
  try {
    const c = await env.confine(hook, name, signal);
    if (!c.ok) throw c.error;
    r = await runHookProcess({ command: hook.command, input, cwd: env.cwd, timeoutMs: hook.timeout_s * 1000, signal, kind: c.kind, policy: c.policy, envNames: hook.env });
  } catch (err) {
    const e = signal.aborted ? new PodError("tool_error", "cancelled before the hook started") : asPodError(err);
    if (e.code === "contract_changed") throw e;
    // A stop hook that cannot run ends the run; a tool hook's call is refused / flagged (it "blocks").
    event({ exit_code: null, decision: name === "stop" ? "error" : "block", message: `${e.code}: ${e.full}` });
    return { kind: "unable", error: e };
  } finally {
    env.afterRun?.();
  }
  let verdict: Verdict = { kind: "allow" };
  let decision: "allow" | "block" | "error" = "allow";
  let message: string | undefined;
  if (r.exitCode === 0) {
    const said = parseDecision(r.stdout);
    if (said) {
      verdict = { kind: "block", reason: said };
      decision = "block";
      message = said;
    }
  } else if (r.exitCode === 2) {
    const reason = r.stderr.trim() || `blocked by the ${name} hook \`${hook.command}\``;
    verdict = { kind: "block", reason };
    decision = "block";
    message = reason;
  } else {
    decision = "error";
    message = r.timedOut ? `timed out after ${hook.timeout_s}s; all its processes were killed` : r.stopped ? `${r.stopped}; all its processes were killed` : r.stderr.trim() || `exited with ${r.exitCode ?? "a signal"}`;
  }
  event({ exit_code: r.exitCode, decision, message });
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
          if (v.kind === "block") return deny(`Blocked by a pre_tool_use hook: ${v.reason}`);
          // A guard that cannot run refuses what it guards (fails closed), unless the run was cancelled meanwhile.
          if (v.kind === "unable" && !ctx.signal.aborted) return deny(`Not run: the pre_tool_use hook \`${h.command}\` that guards this call could not run (${v.error.code}: ${v.error.full}).`);
        }
        // A hook killed by a cancel is a hook error, which would otherwise let the call run.
        if (ctx.signal.aborted) return fail("Not run: the run was cancelled while its pre_tool_use hooks ran.");
        let result = await tool.run(input, ctx);
        for (const h of post) {
          const payload = { tool_name: tool.name, tool_input: input, tool_response: { output: result.output, is_error: result.isError } };
          const v = await fire(env, "post_tool_use", h, payload, ctx.signal, tool.name);
          // The tool has run; the hook's objection — or that the check could not run — goes back with its result.
          const note = v.kind === "block" ? `[post_tool_use hook: ${v.reason}]` : v.kind === "unable" ? `[post_tool_use hook \`${h.command}\` could not run: ${v.error.code}: ${v.error.full}]` : undefined;
          if (note !== undefined) {
            const capped = capOutput(`${result.output}\n\n${note}`);
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
      // A stop hook is the run's last check: one that cannot run ends the run as an error, never as finished.
      if (v.kind === "unable" && !signal.aborted) throw v.error;
      if (v.kind === "block") reasons.push(v.reason);
    }
    if (reasons.length === 0 || continues >= MAX_STOP_CONTINUES) return undefined;
    continues++;
    return reasons.join("\n\n");
  };
}
