// The run loop's inputs and outputs as types, shared by run-loop.ts and the parts it calls
// (tool-calls.ts, turn-retries.ts), so none of them imports another for its types.
import type { PodError } from "../errors.js";
import type { RunResult, Usage } from "../events/schema.js";
import type { EventSink } from "../events/sink.js";
import type { Manifest } from "../manifest.js";
import type { ToolUse } from "../conversation/messages.js";
import type { Toolbox } from "../tools/index.js";
import type { ToolResult } from "../tools/types.js";
import type { SessionStore } from "../store/session-store.js";
import type { ModelClient } from "../provider/client.js";
import type { PendingCall } from "../store/status.js";
import type { Limit, RequestLimits } from "./limits.js";
import type { OutputGate } from "./structured-output.js";

/** What `pod resume --approve|--deny` decided about the pending call. */
export type Approval = { kind: "approve" } | { kind: "deny"; reason: string };

export interface RunContext {
  client: ModelClient;
  manifest: Manifest;
  model: string;
  /** The run's system prompt, the same bytes every turn (prompt caching). */
  systemPrompt: string;
  /** Turns and budget, checked before every request. */
  limits: RequestLimits;
  /** With --output-schema: the final_answer tool and the validation of the answer. */
  output?: OutputGate | undefined;
  store: SessionStore;
  toolbox: Toolbox | undefined;
  sink: EventSink;
  signal: AbortSignal;
  /** Number of the session's last turn before this run; turns continue from it. */
  sessionTurn: number;
  /** Called after every completed turn so status.json is current if the process dies next. */
  onTurnSaved: (progress: RunProgress) => Promise<void>;
  /** Context size at which the session is compacted before the next request (mid-run protection). */
  compactAboveTokens?: number;
  /** Compacts the session now; errors are reported by the callee and do not stop the run. True when it compacted. */
  compactNow?: () => Promise<boolean>;
  /** The stop hooks: asked when the agent would stop; a message sends it back to work (src/hooks/). */
  onStop?: ((signal: AbortSignal) => Promise<string | undefined>) | undefined;
  /** [provider] fallback_model: the rest of the run uses it when the model stays overloaded. */
  fallbackModel?: string | undefined;
  /** After each call that may change something: the pinned trusted inputs' check (src/contract/); an error ends the run. */
  verifyContract?: (() => PodError | undefined) | undefined;
  /** The run's recording (src/runs/): each tool result, written before its tool_result line. */
  recordTool?: ((r: ToolRecord) => void) | undefined;
  /**
   * `pod replay` (src/runtime/replay.ts): runs the call (`run`, the ordinary way) or answers it
   * from the recording. Absent in a run: every call is executed.
   */
  runTool?: ((call: ToolUse, run: () => Promise<ToolResult>) => Promise<ToolResult>) | undefined;
}

/** One tool call's result as the run's recording keeps it (src/runs/format.ts). */
export interface ToolRecord {
  turn: number;
  id: string;
  name: string;
  is_error: boolean;
  output: string;
  truncated: boolean;
  denied?: boolean;
  /** false: answered without running (cut, cancelled, denied by a person, superseded). */
  ran: boolean;
  duration_ms: number;
}

export interface RunProgress {
  sessionTurn: number;
  turns: number;
  usage: Usage;
  /** The model the run is using now: ctx.model, or the fallback model after a model_fallback. */
  model: string;
  /** Context size after the last response of this run (input + cache + output tokens). */
  lastContextTokens?: number;
  /** Every tool call the boundary or a person refused in this run, in order (run_end.denials). */
  denials: Denial[];
}

/** One refused tool call, as run_end.denials lists it (SPEC "Events"). */
export interface Denial {
  id: string;
  tool: string;
  reason: string;
}

export interface RunOutcome extends RunProgress {
  result: RunResult;
  pending: PendingCall | null;
  error?: PodError;
  /** Which limit ended the run, with result limit_reached. */
  limit?: Limit;
  /** The validated structured output (--output-schema), with result finished. */
  output?: unknown;
}
