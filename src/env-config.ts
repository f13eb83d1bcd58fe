/**
 * pod's configuration from the environment, read in one place with one default each
 * (docs/environment.md is the table). The rest of src/ never reads process.env:
 *
 * - `podEnv(env)`: every variable pod itself interprets (POD_*, ANTHROPIC_BASE_URL, the
 *   Bedrock/Vertex region and project), typed, each with its one default. A value that is
 *   not valid (a negative or non-numeric limit) is ignored and the default used, as pod
 *   always did: a typo in a tuning knob must not stop a CI job.
 * - `hostEnv()`: the environment as pod was started with it, for the modules that apply
 *   an outside rule to it or pass it on: the credential's variable (provider/credentials.ts),
 *   proxies by curl's rules (provider/upstream-proxy.ts), colours (NO_COLOR/FORCE_COLOR),
 *   secret values to redact, `${VAR}` in MCP config, a confined command's PATH and `env`
 *   names, and the lock's test seam POD_TEST_DEAD_OWNER_STALE_MS (store/lock.ts bounds it
 *   and says why it is no setting). Each takes it as a parameter default, so a test passes
 *   its own environment.
 *
 * May import: nothing. Everything may import it.
 */

/** The environment pod was started with (never changed by pod). */
export function hostEnv(): NodeJS.ProcessEnv {
  return process.env;
}

/**
 * Each variable's reader: the value, checked, else its default. Plain functions, not a
 * schema: `podEnv()` is read wherever it is needed (each turn's retry policy, every
 * command's start), and building and running a zod object of twenty variables cost
 * ~1.7 ms of `pod status`'s start.
 */
type Read<T> = (v: string | undefined) => T;
/** A non-negative number, else the default (the rule every numeric knob has always had). */
const count =
  (fallback: number): Read<number> =>
  (v) =>
    v !== undefined && v.trim() !== "" && Number.isFinite(Number(v)) && Number(v) >= 0 ? Number(v) : fallback;
/** A positive number, else unset. */
const positive = (): Read<number | undefined> => (v) => (v !== undefined && Number.isFinite(Number(v)) && Number(v) > 0 ? Number(v) : undefined);
/** "1" turns it on; anything else (unset included) leaves it off. */
const flag = (): Read<boolean> => (v) => v === "1";
/** A non-empty string, else the default (an empty variable counts as unset). */
const text =
  <D extends string | undefined>(fallback: D): Read<string | D> =>
  (v) =>
    v ? v : fallback;
const raw = (): Read<string | undefined> => (v) => v;

/** The variables, with their defaults. Each line is one row of docs/environment.md. */
const READERS = {
  /** The runtime directory when --runtime-dir is not given (else `.pod/` next to the manifest). */
  POD_RUNTIME_DIR: text(undefined),
  /** Where the Messages API is (the fake server in tests, a gateway in CI). */
  ANTHROPIC_BASE_URL: ((v) => v?.trim() || "https://api.anthropic.com") as Read<string>,
  // Network limits (docs/reliability.md).
  POD_REQUEST_TIMEOUT_MS: count(30_000),
  POD_STREAM_IDLE_TIMEOUT_MS: count(60_000),
  /** Retries per turn; also the SDK's retries for compaction's request. POD_STREAM_RETRIES is its old name. */
  POD_MAX_RETRIES: raw(),
  POD_STREAM_RETRIES: raw(),
  POD_RETRY_BASE_MS: count(1000),
  POD_RETRY_AFTER_MAX_MS: count(60_000),
  POD_RETRY_TOTAL_MS: count(120_000),
  POD_HEARTBEAT_MS: count(15_000),
  /** Overrides the model's context window (compaction's threshold is 80% of it). */
  POD_CONTEXT_WINDOW: positive(),
  // Bedrock's and Vertex AI's region and project when [provider] does not name them (docs/extending.md).
  AWS_REGION: text(undefined),
  AWS_DEFAULT_REGION: text(undefined),
  CLOUD_ML_REGION: text(undefined),
  GOOGLE_CLOUD_REGION: text(undefined),
  ANTHROPIC_VERTEX_PROJECT_ID: text(undefined),
  GOOGLE_CLOUD_PROJECT: text(undefined),
  /** Another bubblewrap binary (the tests use it to stand in a broken one). */
  POD_BWRAP: text("bwrap"),
  /** The global fetch instead of node:http when there is no proxy (an escape hatch; the bench's baseline). */
  POD_FETCH_GLOBAL: flag(),
  /** `pod-timing {json}` lines on stderr (docs/runtime.md "Timing"). */
  POD_TIMING: flag(),
  /** Every event checked against its zod schema before it is printed (the tests turn it on). */
  POD_VALIDATE_EVENTS: flag(),
};

/** The one default of POD_MAX_RETRIES. */
export const DEFAULT_MAX_RETRIES = 4;

export interface PodEnv {
  runtimeDir: string | undefined;
  baseUrl: string;
  requestTimeoutMs: number;
  streamIdleTimeoutMs: number;
  maxRetries: number;
  retryBaseMs: number;
  retryAfterMaxMs: number;
  retryTotalMs: number;
  heartbeatMs: number;
  contextWindow: number | undefined;
  /** AWS_REGION, else AWS_DEFAULT_REGION. */
  awsRegion: string | undefined;
  /** CLOUD_ML_REGION, else GOOGLE_CLOUD_REGION. */
  vertexRegion: string | undefined;
  /** ANTHROPIC_VERTEX_PROJECT_ID, else GOOGLE_CLOUD_PROJECT. */
  vertexProjectId: string | undefined;
  bwrap: string;
  fetchGlobal: boolean;
  timing: boolean;
  validateEvents: boolean;
}

/** pod's own variables from `env`, typed, each with its one default. Cheap: read again wherever it is needed. */
export function podEnv(env: NodeJS.ProcessEnv = hostEnv()): PodEnv {
  const v = Object.fromEntries(Object.entries(READERS).map(([name, read]) => [name, read(env[name])])) as { [K in keyof typeof READERS]: ReturnType<(typeof READERS)[K]> };
  const retries = count(count(DEFAULT_MAX_RETRIES)(v.POD_STREAM_RETRIES))(v.POD_MAX_RETRIES);
  return {
    runtimeDir: v.POD_RUNTIME_DIR,
    baseUrl: v.ANTHROPIC_BASE_URL,
    requestTimeoutMs: v.POD_REQUEST_TIMEOUT_MS,
    streamIdleTimeoutMs: v.POD_STREAM_IDLE_TIMEOUT_MS,
    maxRetries: retries,
    retryBaseMs: v.POD_RETRY_BASE_MS,
    retryAfterMaxMs: v.POD_RETRY_AFTER_MAX_MS,
    retryTotalMs: v.POD_RETRY_TOTAL_MS,
    heartbeatMs: v.POD_HEARTBEAT_MS,
    contextWindow: v.POD_CONTEXT_WINDOW,
    awsRegion: v.AWS_REGION ?? v.AWS_DEFAULT_REGION,
    vertexRegion: v.CLOUD_ML_REGION ?? v.GOOGLE_CLOUD_REGION,
    vertexProjectId: v.ANTHROPIC_VERTEX_PROJECT_ID ?? v.GOOGLE_CLOUD_PROJECT,
    bwrap: v.POD_BWRAP,
    fetchGlobal: v.POD_FETCH_GLOBAL,
    timing: v.POD_TIMING,
    validateEvents: v.POD_VALIDATE_EVENTS,
  };
}
