/**
 * Error codes and exit codes are part of the contract (SPEC "Events", "Exit codes"):
 * CI scripts branch on them, so they live in one place.
 */
export const ERROR_CODES = [
  "already_running",
  "not_paused",
  "not_running",
  "not_found",
  "provider_error",
  "invalid_credentials",
  "tool_error",
  "output_invalid",
  "sandbox_unavailable",
  "invalid_manifest",
  "invalid_input",
  /** The model declined (stop_reason refusal): nothing of its response was run. Exit 1. */
  "refused",
  /** The conversation does not fit the model's context window, even after compacting. Exit 1. */
  "context_exceeded",
  /** A trusted input (manifest, prompt or schema file, hook or MCP script, instruction file) changed during the run. */
  "contract_changed",
  /** `pod replay`: the request pod would send differs from the recorded one (the message names the turn and the difference). Exit 1. */
  "diverged",
  "internal",
] as const;
export type ErrorCode = (typeof ERROR_CODES)[number];

export const EXIT = {
  finished: 0,
  error: 1,
  usage: 2,
  conflict: 3,
  paused: 10,
  limit_reached: 11,
} as const;

/** The exit code an error ends the process with when nothing else decides it. */
export function exitCodeFor(code: ErrorCode): number {
  switch (code) {
    case "already_running":
    case "not_paused":
    case "not_running":
      return EXIT.conflict;
    case "invalid_manifest":
    case "invalid_input":
    case "not_found":
    // Refused before the run: a missing or malformed key. (A key the API rejects mid-run
    // ends that run as an error, exit 1, like any run error.)
    case "invalid_credentials":
      return EXIT.usage;
    default:
      return EXIT.error;
  }
}

/**
 * An error meant for the user: `message` names the problem, `hint` the fix.
 * Thrown inside pod only to cross layers; at the CLI boundary it becomes one
 * `error` event (or part of a run) plus an exit code.
 */
const POD_ERROR = Symbol.for("pod.PodError");

export class PodError extends Error {
  /**
   * Each dist bundle carries its own copy of this class (a command and the shared
   * agent bundle, for one), so `instanceof` checks a brand, not the constructor.
   */
  static override [Symbol.hasInstance](value: unknown): boolean {
    return typeof value === "object" && value !== null && (value as Record<symbol, unknown>)[POD_ERROR] === true;
  }
  readonly [POD_ERROR] = true;

  constructor(
    readonly code: ErrorCode,
    message: string,
    readonly hint?: string,
    /** The run can be picked up again with `pod resume` (a transient provider fault outlasted the retries). */
    readonly resumable = false,
  ) {
    super(message);
    this.name = "PodError";
  }

  /** The message with its fix, as printed in the `error` event. */
  get full(): string {
    return this.hint ? `${this.message}; fix: ${this.hint}` : this.message;
  }
}

export function asPodError(err: unknown): PodError {
  if (err instanceof PodError) return err;
  const message = err instanceof Error ? err.message : String(err);
  return new PodError("internal", `internal error: ${message}`, "please report this with the command you ran");
}
