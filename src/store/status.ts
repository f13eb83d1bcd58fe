import { readFileSync } from "node:fs";
import "../zod-mini.js";
import * as z from "zod/mini";
import { PodError } from "../errors.js";
import { Usage, ZERO_USAGE } from "../conversation/usage.js";
import { RunResult } from "../events/schema.js";
import { writeFileAtomic } from "./atomic-file.js";
import { SESSION_ID } from "./paths.js";

/**
 * What the model had read of a file a pending call would change (src/tools/tracker.ts):
 * the resuming process applies the approved call only if the file still has this content.
 */
export const ReadProof = z.object({
  /** Relative to the scope root. */
  path: z.string(),
  dev: z.number(),
  ino: z.number(),
  size: z.number(),
  mtime_ms: z.number(),
  sha256: z.string().check(z.regex(/^[0-9a-f]{64}$/)),
});
export type ReadProof = z.infer<typeof ReadProof>;

export const PendingCall = z.object({
  id: z.string(),
  name: z.string(),
  input: z.record(z.string(), z.unknown()),
  /** The read proofs for this call and the calls after it in the same response. Absent in older files. */
  reads: z.optional(z.array(ReadProof)),
});
export type PendingCall = z.infer<typeof PendingCall>;

/**
 * status.json's schema, built on first use: `pod status` in a pod that has never run
 * (no status.json) then builds none of it (~1 ms of its start).
 */
function buildStatusSchema() {
  return z.object({
  pod: z.string(),
  /** Used as a file name: only a real session id is accepted (`../../x` makes the file damaged, not a path to follow). */
  session_id: z.string().check(z.regex(SESSION_ID, "not a session id")),
  status: z.enum(["idle", "running", "paused"]),
  /** The owning process while `running`. */
  pid: z.optional(z.int().check(z.positive())),
  /** Number of the last turn taken in this session (turns are numbered per session). */
  turn: z.int().check(z.nonnegative()),
  last_result: z.nullable(RunResult),
  /** Token totals of the session, across every run and resume. */
  usage: Usage,
  /** Estimated session cost in USD; null once any run used a model without a price. Absent in older files. */
  cost_usd: z.optional(z.nullable(z.number().check(z.nonnegative()))),
  /** The tool call waiting for `pod resume --approve|--deny`. */
  pending: z.nullable(PendingCall),
  updated_at: z.iso.datetime(),
  });
}
let built: ReturnType<typeof buildStatusSchema> | undefined;
const statusSchema = () => (built ??= buildStatusSchema());
export type Status = z.infer<ReturnType<typeof buildStatusSchema>>;

export function freshStatus(pod: string, sessionId: string): Status {
  return {
    pod,
    session_id: sessionId,
    status: "idle",
    turn: 0,
    last_result: null,
    usage: { ...ZERO_USAGE },
    cost_usd: 0,
    pending: null,
    updated_at: new Date().toISOString(),
  };
}

/** Reads status.json; undefined when the pod has never run. A damaged file is an error that names it. */
export async function readStatus(file: string): Promise<Status | undefined> {
  let text: string;
  try {
    // Synchronous: one small file, and `pod status` (a polling loop's command) then never
    // loads node:fs/promises (1.6 ms of its start) or waits on the thread pool.
    text = readFileSync(file, "utf8");
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === "ENOENT") return undefined;
    throw new PodError("invalid_input", `cannot read ${file}: ${(err as NodeJS.ErrnoException).code}`, "make the runtime directory readable and writable, or choose another with --runtime-dir or $POD_RUNTIME_DIR");
  }
  let raw: unknown;
  try {
    raw = JSON.parse(text);
  } catch {
    throw new PodError("internal", `${file} is not valid JSON (damaged)`, "`pod run` or `pod resume` rebuilds it from the session store and keeps the damaged file as status.json.corrupt-<time>");
  }
  const parsed = statusSchema().safeParse(raw);
  if (!parsed.success) {
    const issue = parsed.error.issues[0]!;
    throw new PodError(
      "internal",
      `${file} does not look like a pod status (${issue.path.join(".") || "top level"}: ${issue.message})`,
      "`pod run` or `pod resume` rebuilds it from the session store and keeps the damaged file as status.json.corrupt-<time>",
    );
  }
  return parsed.data;
}

/** `durable: false` for the per-turn saves only (see writeFileAtomic): a stale or lost one is repaired from the session. */
export async function writeStatus(file: string, status: Status, opts: { durable?: boolean } = {}): Promise<void> {
  const stamped = { ...status, updated_at: new Date().toISOString() };
  await writeFileAtomic(file, JSON.stringify(stamped, null, 2) + "\n", opts);
}
