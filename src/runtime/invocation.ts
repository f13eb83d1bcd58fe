import { EXIT, PodError, asPodError } from "../errors.js";
import { timing, TIMING } from "../timing.js";
import { refuse } from "../events/refuse.js";
import { addUsage, ZERO_USAGE, type RunResult, type Usage } from "../events/schema.js";
import type { EventSink } from "../events/sink.js";
import type { Manifest } from "../manifest.js";
import { textMessage, toolResultMessage, unsettledToolUses, type Message } from "../conversation/messages.js";
import { createToolbox, type Toolbox } from "../tools/index.js";
import { credentialWarnings } from "../policy/git-credentials.js";
import { protectedPaths } from "../policy/protected.js";
import { createProviderClient, type ModelClient } from "../provider/client.js";
import { sandboxForRun } from "../sandbox/detect.js";
import { takePod, type OwnedPod } from "../store/pod-owner.js";
import { podWatch } from "./emit.js";
import type { Status } from "../store/status.js";
import { compactSession } from "./compaction.js";
import { addCost, contextWindowFor, costUsd } from "../conversation/pricing.js";
import { podEnv } from "../env-config.js";
import { runLoop, type Approval, type RunOutcome } from "./run-loop.js";
import { buildRequest, toolDefinitions } from "../provider/request.js";
import { startExtensions, type Extensions } from "./extensions.js";
import { buildSystemPrompt, type SystemPrompt } from "../prompt/system-prompt.js";
import { requestLimits, startTimeLimit, type RequestLimits } from "./limits.js";
import type { RunOptions } from "./run-options.js";
import { OutputGate } from "./structured-output.js";
import { requireSession } from "../store/session-select.js";
import { withoutDisabled } from "../tools/disabled.js";
import { writeOperatorFile, type OperatorFile } from "../store/operator-file.js";
import { pinTrustedInputs, type Pins } from "../contract/pins.js";
import type { Redactor } from "../redact/redactor.js";
import type { EventBody } from "../events/schema.js";
import { tapClient } from "../provider/tap.js";
import { newRunId } from "../runs/format.js";
import { Recording } from "../runs/recorder.js";
import { trackChanges, type ChangeTracker, type RunChanges, type TrackOptions } from "../changes/index.js";
import { diffstatOf } from "./diffstat.js";
import { reviewOutputSchema, writeSarif } from "../review/index.js";

export interface InvocationOptions {
  manifest: Manifest;
  runtimeDir: string;
  sink: EventSink;
  model?: string | undefined;
  maxTurns?: number | undefined;
  /** Session, structured output, budget and time limit (src/runtime/run-options.ts). */
  run?: RunOptions | undefined;
}

export type RunRequest = { mode: "run"; prompt: string } | { mode: "resume"; approval?: Approval | undefined };

const SUPERSEDED = "Not run: a new prompt was given while this call was waiting, so it was dropped.";

const EXIT_FOR_RESULT: Record<RunResult, number> = {
  finished: EXIT.finished,
  paused: EXIT.paused,
  limit_reached: EXIT.limit_reached,
  error: EXIT.error,
};

/**
 * One `pod run` or `pod resume`: take the pod, run the loop, save, release.
 * Returns the process exit code. Refusals before the run starts print one
 * `error` line; once the run starts the output always ends with one `run_end`.
 *
 * The steps, in order, each a function below that takes what the earlier ones made:
 * prepare → takeThePod → openSession → startExtensions → beginRun → assemble → runTheLoop
 * → finish. Before beginRun a failure is a refusal (one `error`, nothing
 * of the session touched); from beginRun on it is a run that ends with `run_end`.
 */
export async function invokeRun(req: RunRequest, opts: InvocationOptions): Promise<number> {
  const { sink } = opts;
  const started = Date.now();
  const controller = new AbortController();
  const run = opts.run ?? { newSession: false };
  // The whole run, lock to run_end: on expiry it stops as `pod cancel` would.
  const timeLimit = startTimeLimit(run.timeoutMs, controller);
  let ready: Prepared;
  let pod: OwnedPod;
  const stamp = (step: string) => TIMING && timing({ startup: step, ms: performance.now() });
  stamp("invoked");
  try {
    ready = await prepare(opts, run);
    stamp("prepared");
    pod = await takeThePod(opts, run, controller);
    stamp("locked");
  } catch (err) {
    timeLimit.clear();
    return refuse(sink, err);
  }
  const signals = stopOnSignals(controller);
  let extensions: Extensions | undefined;
  let recording: Recording | undefined;
  try {
    const refusal = await openSession(req, pod, run);
    if (refusal) return refuse(sink, refusal);
    try {
      extensions = await startExtensions(opts.manifest, sink, ready.pins, opts.runtimeDir);
    } catch (err) {
      return refuse(sink, err);
    }
    stamp("extensions");
    const begun = await beginRun(req, opts, ready, pod, extensions);
    stamp("begun");
    recording = begun.recording;
    const kit = await assemble(opts, ready, pod, begun, extensions, controller.signal);
    stamp("assembled");
    const loopOutcome = await runTheLoop(req, opts, ready, pod, begun, kit, controller.signal);
    for (const tool of kit.toolbox?.tools ?? []) tool.release?.();
    // Stopped by the time limit (not by a cancel or an approval gate): a limit, not a pause.
    const timedOut = timeLimit.timedOut() && loopOutcome.result === "paused" && !loopOutcome.pending;
    const { outcome, end, told } = await finish(opts, ready, pod, begun, kit, timedOut ? { ...loopOutcome, result: "limit_reached", limit: "time" } : loopOutcome, started);
    // The recording's end is written (durably) before run_end announces it; with what `pod report` shows beyond run_end.
    if (recording) await recording.end(end, undefined, { diffstat: await diffstatOf(told.changed), error: told.error && { code: told.error.code, message: told.error.full } });
    recording = undefined;
    sink.emit("run_end", end);
    return exitCode(outcome, run);
  } catch (err) {
    // Saving state failed (disk full, permissions…): say so and end the run as an error.
    const e = asPodError(err);
    sink.emit("error", { code: e.code, message: e.full });
    const end: EventBody<"run_end"> = { result: "error", turns: 0, usage: ZERO_USAGE, duration_ms: Date.now() - started, denials: [] };
    await recording?.end(end, undefined, { error: { code: e.code, message: e.full } }).catch(() => {});
    recording = undefined;
    sink.emit("run_end", end);
    return EXIT.error;
  } finally {
    await recording?.close();
    timeLimit.clear();
    signals.off();
    await extensions?.close();
    await pod.release().catch(() => {});
  }
}

/** What prepare() settled before the pod is touched. */
interface Prepared {
  /** opts.run, defaults filled in. */
  run: RunOptions;
  model: string;
  limits: RequestLimits;
  /** The model client (tapped by the recording once the run begins: Begun.client). */
  client: ModelClient;
  systemPrompt: SystemPrompt;
  /** The operator's trusted inputs as they were before the lock (src/contract/). */
  pins: Pins;
  /** The OS sandbox Bash will use, probed while the pod is taken: run_start says which. */
  sandbox: ReturnType<typeof sandboxForRun>;
  /** The scope as the change tracker and --review see it; undefined without [scope]. */
  scopeRules: TrackOptions | undefined;
  /** The scope's snapshot and comparison (src/changes/), made while the model answers. */
  changes: ChangeTracker | undefined;
  /** Settles when the run's first request is on the wire: work the first request need not wait for starts then. */
  firstRequestOut: Promise<void>;
}

/**
 * Step 1, nothing written yet: the limits, the key, the system prompt and the pinned
 * inputs. Any of them wrong refuses the run before the runtime directory is touched.
 */
async function prepare(opts: InvocationOptions, run: RunOptions): Promise<Prepared> {
  const { manifest, sink } = opts;
  const model = opts.model ?? manifest.data.pod.model;
  // The sandbox's probe starts first, to work while the rest of the start-up waits on I/O; the scope's snapshot once the first request is out (src/changes/).
  const sandbox = sandboxForRun(manifest.scopeRoot === undefined ? undefined : manifest.data.tools);
  const scopeRules = manifest.scopeRoot === undefined ? undefined : { root: manifest.scopeRoot, deny: manifest.data.scope?.deny ?? [], runtimeDir: opts.runtimeDir, manifestFile: manifest.file };
  const changes = scopeRules && trackChanges({ ...scopeRules, redactor: sink.redactor });
  const limits = requestLimits({ model, maxTurns: opts.maxTurns ?? manifest.data.pod.max_turns, maxCostUsd: run.maxCostUsd, pricing: manifest.data.pricing });
  // Fail on a missing key before touching the runtime directory.
  let out!: () => void;
  const firstRequestOut = new Promise<void>((resolve) => (out = resolve));
  const onRequestSent = () => {
    changes?.modelAsked();
    out();
  };
  const client = await createProviderClient(manifest.data.provider, undefined, { onRequestSent });
  const systemPrompt = await buildSystemPrompt({ manifest, runtimeDir: opts.runtimeDir, redactor: sink.redactor, review: run.review });
  // The operator's inputs as they are now, before the lock: a bad one refuses the run here (src/contract/).
  const pins = await pinTrustedInputs({ manifest, runtimeDir: opts.runtimeDir, outputSchema: run.outputSchema?.source, instructions: systemPrompt.sources });
  return { run, model, limits, client, systemPrompt, pins, sandbox, scopeRules, changes, firstRequestOut };
}

/** Step 2: the lock, status and the current session (src/store/pod-owner.ts). Losing the lock later stops the run. */
function takeThePod(opts: InvocationOptions, run: RunOptions, controller: AbortController): Promise<OwnedPod> {
  return takePod(opts.manifest, opts.runtimeDir, podWatch(opts.sink), {
    // --new never reads the current session, so it also gets a pod out of a damaged one.
    newSession: run.newSession && run.session === undefined,
    onLockLost: (err) => {
      process.stderr.write(`pod: lost the pod lock (${err.message}); stopping the run\n`);
      controller.abort();
    },
  });
}

/**
 * First SIGINT/SIGTERM: stop cleanly (paused, exit 10). A second one exits at once;
 * the store is consistent at every instant, so the next invocation repairs the status.
 */
function stopOnSignals(controller: AbortController): { off(): void } {
  const onSignal = () => {
    if (controller.signal.aborted) process.exit(130);
    controller.abort();
  };
  process.on("SIGINT", onSignal);
  process.on("SIGTERM", onSignal);
  return {
    off() {
      process.off("SIGINT", onSignal);
      process.off("SIGTERM", onSignal);
    },
  };
}

/** Step 3: `--session ID` made current, and whether this request fits the pod's state. The refusal, if any. */
async function openSession(req: RunRequest, pod: OwnedPod, run: RunOptions): Promise<PodError | undefined> {
  try {
    if (run.session !== undefined) {
      requireSession(pod.paths.sessions, run.session);
      await pod.switchSession(run.session);
    }
  } catch (err) {
    return asPodError(err);
  }
  return checkPreconditions(req, pod);
}

/** What beginRun() started: from here on the run ends with run_end. */
interface Begun {
  /** Prepared.client, tapped by the recording when there is one. */
  client: ModelClient;
  recording: Recording | undefined;
  /** The status as the run found it: this run's usage and cost are added to it. */
  base: Status;
  /** With --output-schema or --review: the final_answer tool and the answer's check. */
  output: OutputGate | undefined;
}

/**
 * Step 4: the prompt stored, the recording started, status `running` and run_start
 * printed, in that order: the prompt is durable before the run is announced (run_start,
 * status running, both fsynced), and a reader that sees run_start sees the pod is ours.
 */
async function beginRun(req: RunRequest, opts: InvocationOptions, ready: Prepared, pod: OwnedPod, extensions: Extensions): Promise<Begun> {
  const { manifest, sink } = opts;
  const { run } = ready;
  const output = run.outputSchema ? new OutputGate(run.outputSchema) : run.review && ready.scopeRules ? new OutputGate(await reviewOutputSchema(ready.scopeRules)) : undefined;
  const base = pod.status;
  if (req.mode === "run") await storePrompt(pod, req.prompt, base.turn);
  // The run's recording (src/runs/), from the history the loop starts from; its first lines
  // are made durable with the session's, here and at every later sync point.
  const recording = await startRunRecording(req, pod, { manifest, model: ready.model, limits: ready.limits, run, systemPrompt: ready.systemPrompt, keepRuns: manifest.data.pod.keep_runs, redactor: sink.redactor });
  pod.store.syncWith(recording);
  const client = recording ? tapClient(ready.client, recording) : ready.client;
  await pod.store.sync();
  await pod.saveStatus({ ...base, status: "running", pid: process.pid, pending: null });
  await announceStart(req, opts, ready, recording, extensions);
  return { client, recording, base, output };
}

/** A new prompt, stored: it supersedes the calls a paused run left open (including one awaiting approval). */
async function storePrompt(pod: OwnedPod, prompt: string, turn: number): Promise<void> {
  for (const call of unsettledToolUses(pod.store.messages())) {
    await pod.store.append(toolResultMessage(call.id, SUPERSEDED, true), turn);
  }
  // The same prompt again after its request failed before any answer: ask again, do not store it twice.
  if (!isUnansweredPrompt(pod.store.messages().at(-1), prompt)) await pod.store.append(textMessage("user", prompt), turn);
}

/** run_start, then the `error` lines of what started broken but does not stop the run. */
async function announceStart(req: RunRequest, opts: InvocationOptions, ready: Prepared, recording: Recording | undefined, extensions: Extensions): Promise<void> {
  const { manifest, sink } = opts;
  const { systemPrompt, pins } = ready;
  // Credentials a checkout left in the workspace: hidden from the model, but the operator should not leave them there.
  const credentials = manifest.scopeRoot === undefined ? [] : await credentialWarnings(manifest.scopeRoot).catch(() => []);
  const warnings = [...systemPrompt.warnings, ...pins.warnings, ...credentials];
  sink.emit("run_start", {
    run_id: recording?.id ?? newRunId(),
    pod: manifest.data.pod.name,
    mode: req.mode,
    model: ready.model,
    ...(req.mode === "run" ? { input: req.prompt } : {}),
    sandbox: (await ready.sandbox).kind,
    instructions: systemPrompt.instructions,
    ...(warnings.length > 0 ? { warnings } : {}),
  });
  for (const f of extensions.failures) sink.emit("error", { code: f.code, message: f.message });
  // Bash is enabled but no sandbox can start: said once here; each Bash call is then refused (the run goes on).
  const sandboxError = (await ready.sandbox).error;
  if (sandboxError) sink.emit("error", { code: sandboxError.code, message: sandboxError.full });
}

/** What assemble() put together for the loop. */
interface Kit {
  toolbox: Toolbox | undefined;
  /** Compacts the session now (best-effort: an error is reported and the run goes on). True when it compacted. */
  compact: () => Promise<boolean>;
  /** The stop hooks, waiting for the scope's snapshot as the tools do. */
  onStop: Extensions["onStop"];
}

/** Step 5: the run's tools, its compaction (which reuses the run's request, so it reads the prompt cache) and its stop hooks. */
async function assemble(opts: InvocationOptions, ready: Prepared, pod: OwnedPod, begun: Begun, extensions: Extensions, signal: AbortSignal): Promise<Kit> {
  const { manifest, sink } = opts;
  const { model, systemPrompt } = ready;
  const toolbox = await runToolbox(manifest, opts.runtimeDir, ready.pins, extensions, ready.changes);
  // What the model can call starts loading once the first request is in flight (Grep's
  // threads and warm-up: start-up its first call would otherwise wait for, which before
  // the request is sent would delay the request). A call made before then starts it itself.
  void ready.firstRequestOut.then(() => {
    for (const tool of toolbox?.tools ?? []) tool.prepare?.();
  });
  const compact = async (): Promise<boolean> => {
    try {
      const done = await compactSession({
        client: begun.client,
        model,
        store: pod.store,
        keepRecentTurns: manifest.data.compaction.keep_recent_turns,
        touched: toolbox?.touchedFiles() ?? { read: [], written: [] },
        sink,
        signal,
        systemPrompt: systemPrompt.text,
        prefix: (history) => buildRequest({ manifest, model, system: systemPrompt.text, tools: toolDefinitions(toolbox?.tools ?? []), history }),
      });
      return done.compacted;
    } catch (err) {
      // Best-effort: the session is untouched, the run goes on, the error is reported.
      const e = asPodError(err);
      sink.emit("error", { code: e.code, message: e.full });
      return false;
    }
  };
  const onStop = ready.changes ? ready.changes.gateStop(extensions.onStop) : extensions.onStop;
  return { toolbox, compact, onStop };
}

/** This run's cost of `usage` on `model`, the manifest's [pricing] applied (null: unpriced). */
const costOf = (manifest: Manifest, usage: Usage, model: string) => costUsd(model, usage, manifest.data.pricing);

/** Step 6: the agent loop (run-loop.ts) with this run's parts; status.json kept current after each turn. */
function runTheLoop(req: RunRequest, opts: InvocationOptions, ready: Prepared, pod: OwnedPod, begun: Begun, kit: Kit, signal: AbortSignal): Promise<RunOutcome> {
  const { manifest, sink } = opts;
  const { base, recording } = begun;
  return runLoop(
    {
      client: begun.client,
      manifest,
      model: ready.model,
      systemPrompt: ready.systemPrompt.text,
      limits: ready.limits,
      output: begun.output,
      store: pod.store,
      toolbox: kit.toolbox,
      sink,
      signal,
      sessionTurn: base.turn,
      compactAboveTokens: contextWindowFor(ready.model, podEnv().contextWindow) * 0.8,
      compactNow: kit.compact,
      onStop: kit.onStop,
      fallbackModel: manifest.data.provider.fallback_model,
      verifyContract: () => ready.pins.verify(),
      recordTool: recording ? (r) => recording.toolResult(r) : undefined,
      // Per turn: atomic but not fsynced (the session is what is made durable each turn;
      // a stale status.json is repaired from it, see takePod). Start, pause and end are fsynced.
      onTurnSaved: (p) =>
        pod.saveStatus(
          {
            ...pod.status,
            status: "running",
            pid: process.pid,
            turn: p.sessionTurn,
            usage: addUsage(base.usage, p.usage),
            cost_usd: addCost(base.cost_usd ?? 0, costOf(manifest, p.usage, p.model)),
          },
          { durable: false },
        ),
    },
    { pending: req.mode === "resume" ? base.pending : null, approval: req.mode === "resume" ? req.approval : undefined },
  );
}

/**
 * Step 7: what the run leaves behind, in order: the files CI asked for (files_changed,
 * --diff, -o, --sarif), a post-run compaction, the final status (fsynced), and the
 * run_end body the caller records and prints.
 */
async function finish(opts: InvocationOptions, ready: Prepared, pod: OwnedPod, begun: Begun, kit: Kit, loopOutcome: RunOutcome, started: number): Promise<{ outcome: RunOutcome; end: EventBody<"run_end">; told: { changed: RunChanges | undefined; error: PodError | undefined } }> {
  const { manifest, sink } = opts;
  const { outcome, changed, endError } = await writeRunFiles(opts, ready, pod, loopOutcome);
  if (outcome.error) sink.emit("error", { code: outcome.error.code, message: outcome.error.full });
  // Post-run compaction: only after a run that ended with the session at rest (a time limit stops mid-turn).
  const atRest = outcome.result === "finished" || (outcome.result === "limit_reached" && outcome.limit !== "time");
  if (atRest && (outcome.lastContextTokens ?? 0) > manifest.data.compaction.threshold_tokens) await kit.compact();
  const cost = costOf(manifest, outcome.usage, outcome.model);
  await pod.saveStatus({
    ...pod.status,
    // Resumable: a pause, a time limit (stopped as on cancel), a transient provider fault that outlasted the retries.
    status: outcome.result === "paused" || outcome.limit === "time" || outcome.error?.resumable ? "paused" : "idle",
    pid: undefined,
    turn: outcome.sessionTurn,
    last_result: outcome.result,
    usage: addUsage(begun.base.usage, outcome.usage),
    cost_usd: addCost(begun.base.cost_usd ?? 0, cost),
    // A call awaiting approval holds the model's input: redacted like the session it comes from.
    pending: sink.redactor.value(outcome.pending),
  });
  const end: EventBody<"run_end"> = {
    result: outcome.result,
    ...(outcome.limit ? { limit: outcome.limit } : {}),
    turns: outcome.turns,
    usage: outcome.usage,
    cost_usd: cost,
    duration_ms: Date.now() - started,
    ...(outcome.output !== undefined ? { output: outcome.output } : {}),
    // The calls awaiting a decision, as the model asked for them (the read proofs stay in status.json).
    ...(outcome.result === "paused" ? { pending: outcome.pending ? [{ id: outcome.pending.id, name: outcome.pending.name, input: outcome.pending.input }] : [] } : {}),
    denials: outcome.denials,
    ...changed?.fields,
  };
  // The error the run ended with (or one told beside a pause), for the recording: run_end carries no error.
  return { outcome, end, told: { changed, error: outcome.error ?? endError } };
}

/**
 * files_changed on every run_end; --diff whatever the result (the changes happened), before
 * -o and --sarif: pod's own files are not the run's changes. A file CI asked for that could
 * not be written ends a finished run as an error; a pause or a limit stands, and is told.
 */
async function writeRunFiles(opts: InvocationOptions, ready: Prepared, pod: OwnedPod, loopOutcome: RunOutcome): Promise<{ outcome: RunOutcome; changed: RunChanges | undefined; endError: PodError | undefined }> {
  const { run } = ready;
  const changed = await ready.changes?.finish(run.diff);
  let outcome = await writeLastMessage(loopOutcome, run.outputFile, pod, opts.sink.redactor);
  // --sarif only with an accepted answer, as -o.
  const sarifError = run.sarif && outcome.result === "finished" && outcome.output !== undefined ? await writeSarif(run.sarif, outcome.output, opts.manifest.scopeRoot!, opts.sink.redactor) : undefined;
  const endError = changed?.error ?? sarifError;
  if (endError && outcome.result === "finished") outcome = { ...outcome, result: "error", error: endError };
  else if (endError) opts.sink.emit("error", { code: endError.code, message: endError.full });
  return { outcome, changed, endError };
}

/** The exit code for a run that ended with run_end (docs/exit-codes.md). */
function exitCode(outcome: RunOutcome, run: RunOptions): number {
  if (run.failOnDenial && outcome.denials.length > 0) {
    process.stderr.write(`pod: exit 1 (--fail-on-denial): ${outcome.denials.length} tool call${outcome.denials.length === 1 ? " was" : "s were"} denied; run_end.denials lists them\n`);
    return EXIT.error;
  }
  return EXIT_FOR_RESULT[outcome.result];
}

/**
 * The run's tools: the built-in ones inside the scope's boundary (protected paths, the pinned
 * trusted inputs), the MCP tools, hooks around them all, and with `changes` each waiting for
 * the scope's snapshot. `pod replay --tools live` builds them the same way (src/runtime/replay.ts).
 */
export async function runToolbox(manifest: Manifest, runtimeDir: string, pins: Pins, extensions: Extensions, changes?: ChangeTracker): Promise<Toolbox | undefined> {
  const builtins =
    manifest.scopeRoot === undefined
      ? undefined
      : withoutDisabled(
          await createToolbox(
            {
              root: manifest.scopeRoot,
              writable: manifest.data.scope?.writable,
              deny: manifest.data.scope?.deny ?? [],
              ...(await protectedPaths({ manifestFile: manifest.file, runtimeDir, scopeRoot: manifest.scopeRoot, trusted: pins.files(), trustedDirs: pins.directories() })),
            },
            manifest.data.tools.bash,
            // One protection policy for the file tools, Bash, hooks and MCP servers (one walk of the scope).
            extensions.protection,
          ),
          manifest.data.tools.disabled,
        );
  // Every tool waits for the snapshot to be complete (it is, long before the model's first answer, in practice).
  return changes ? changes.gate(extensions.toolbox(builtins)) : extensions.toolbox(builtins);
}

/** The session ends with exactly this prompt, unanswered (its request failed before the model said anything). */
function isUnansweredPrompt(last: Message | undefined, prompt: string): boolean {
  return last?.role === "user" && last.content.length === 1 && last.content[0]!.type === "text" && last.content[0]!.text === prompt;
}

/**
 * `-o FILE`: after a finished run, the structured output (pretty JSON) or else the
 * final assistant text, written atomically. A run that did not finish leaves the
 * file as it was; a failed write turns the run into an error (CI must not read a stale file).
 */
async function writeLastMessage(outcome: RunOutcome, file: OperatorFile | undefined, pod: OwnedPod, redactor: Redactor): Promise<RunOutcome> {
  if (file === undefined || outcome.result !== "finished") return outcome;
  const lastAssistant = [...pod.store.messages()].reverse().find((m) => m.role === "assistant");
  const text =
    outcome.output !== undefined
      ? JSON.stringify(outcome.output, null, 2) + "\n"
      : (lastAssistant?.content.flatMap((b) => (b.type === "text" ? [b.text] : [])).join("\n") ?? "");
  try {
    // The structured output is the model's final_answer input as called: redacted like every output.
    await writeOperatorFile(file, redactor.text(text));
    return outcome;
  } catch (err) {
    return { ...outcome, result: "error", error: asPodError(err) };
  }
}

function checkPreconditions(req: RunRequest, pod: OwnedPod): PodError | undefined {
  const { status, pending } = pod.status;
  if (req.mode === "run") return undefined;
  if (status !== "paused") {
    return new PodError("not_paused", `pod "${pod.status.pod}" is ${status}, not paused`, "`pod resume` continues a paused pod; use `pod run \"<prompt>\"` to give it new work");
  }
  if (pending && !req.approval) {
    return new PodError(
      "invalid_input",
      `a ${pending.name} call (${pending.id}) is waiting for approval`,
      "run `pod resume --approve` to run it, or `pod resume --deny \"<reason>\"` to refuse it",
    );
  }
  if (!pending && req.approval) {
    return new PodError("invalid_input", `--${req.approval.kind} given, but no tool call is waiting for approval`, "run `pod resume` without it");
  }
  return undefined;
}


/**
 * Starts the run's recording (src/runs/recorder.ts) from what the loop is about to start
 * from: the history as the model sees it, where that is in the session, and what a replay
 * needs to send the same requests (the limits, the output schema, the prompt's facts).
 * undefined with `[pod] keep_runs = 0`.
 */
async function startRunRecording(
  req: RunRequest,
  pod: OwnedPod,
  o: { manifest: Manifest; model: string; limits: RequestLimits; run: RunOptions; systemPrompt: SystemPrompt; keepRuns: number; redactor: Redactor },
): Promise<Recording | undefined> {
  const status = pod.status;
  return Recording.start({
    podDir: pod.paths.dir,
    keepRuns: o.keepRuns,
    redactor: o.redactor,
    history: pod.store.messages(),
    run: {
      pod: o.manifest.data.pod.name,
      session_id: pod.store.id,
      mode: req.mode,
      model: o.model,
      ...(req.mode === "run" ? { input: req.prompt } : { resume: { pending: status.pending, ...(req.approval ? { approval: req.approval } : {}) } }),
      start: { turn: status.turn, stored_messages: pod.store.allMessages().length, keep_from: pod.store.compaction()?.keep_from ?? 0 },
      limits: { max_turns: o.limits.maxTurns, ...(o.limits.maxCostUsd !== undefined ? { max_cost_usd: o.limits.maxCostUsd } : {}) },
      ...(o.run.outputSchema ? { output_schema: { file: o.run.outputSchema.file, schema: o.run.outputSchema.schema } } : {}),
      ...(o.run.review && !o.run.outputSchema ? { review: true } : {}),
      ...(o.systemPrompt.environment ? { environment: o.systemPrompt.environment } : {}),
    },
  });
}
