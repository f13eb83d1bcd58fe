import { existsSync } from "node:fs";
import { mkdir, readFile, rename } from "node:fs/promises";
import { PodError } from "../errors.js";
import type { Redactor } from "../redact/redactor.js";
import { manifestSnapshot, type Manifest } from "../manifest.js";
import { unsettledToolUses } from "../conversation/messages.js";
import { SessionStore, type WriteGuard } from "./session-store.js";
import { writeFileAtomic } from "./atomic-file.js";
import { acquirePodLock } from "./lock.js";
import { podPaths, type PodPaths } from "./paths.js";
import { freshStatus, readStatus, writeStatus, type Status } from "./status.js";
import { addUsage, ZERO_USAGE, type Usage } from "../conversation/usage.js";
import { addCost, costUsd, type PriceOverrides } from "../conversation/pricing.js";

/** A pod this process owns: the lock is held until `release()`. */
export interface OwnedPod {
  paths: PodPaths;
  manifest: Manifest;
  status: Status;
  store: SessionStore;
  /** `durable: false`: a run's per-turn progress (no fsync; repaired from the session after a power loss). */
  saveStatus(next: Status, opts?: { durable?: boolean }): Promise<void>;
  /** Makes a stored session current (`--session ID`; the id is checked by the caller). */
  switchSession(id: string): Promise<void>;
  release(): Promise<void>;
}

/**
 * What taking a pod tells its caller as it goes. The store emits no events: the runtime
 * turns these into the envelope's session id and `state_repaired` lines (src/runtime/emit.ts).
 */
export interface PodWatch {
  /** The run's Redactor: session writes go through it. */
  readonly redactor: Redactor;
  /** The session this pod's events are now about (known from status.json before the lock, then the loaded one). */
  session(id: string): void;
  /** State a process that died left behind was repaired. */
  repaired(message: string, previousPid: number | null): void;
}

export interface TakeOptions {
  /** Called if the lock is lost while held; the caller should stop the run. */
  onLockLost: (err: Error) => void;
  /**
   * Start a fresh session instead of loading the current one (`pod new`). The current
   * session is not read at all, so a damaged one does not stand in the way: this is
   * the recovery its error message points to.
   */
  newSession?: boolean;
}

/**
 * Takes the pod lock and loads status and the current session. Creates the runtime
 * files on first use, and repairs a `running` status left by a process that died
 * (we hold the lock, so its owner is gone) to `paused`, saying so through `watch`.
 */
export async function takePod(manifest: Manifest, runtimeDir: string, watch: PodWatch, opts: TakeOptions): Promise<OwnedPod> {
  const paths = podPaths(runtimeDir, manifest.data.pod.name);
  const name = manifest.data.pod.name;
  try {
    await mkdir(paths.dir, { recursive: true });
  } catch (err) {
    throw new PodError(
      "invalid_input",
      `cannot create the runtime directory ${paths.dir} (${(err as NodeJS.ErrnoException).code})`,
      "make it writable, or choose another with --runtime-dir or $POD_RUNTIME_DIR",
    );
  }
  const before = await readStatus(paths.status).catch(() => undefined);
  if (before?.session_id) watch.session(before.session_id);
  const lock = await acquirePodLock(paths.dir, paths.lock, { onCompromised: opts.onLockLost });
  const release = lock.release;
  // Every state write first checks the lock is still ours: a process that lost it stops writing.
  const guard = { beforeWrite: lock.assertHeld, redactor: watch.redactor };
  try {
    let { status, store } = opts.newSession ? await startFresh(paths, name, watch, guard) : await loadState(paths, name, watch, guard, manifest.data.pricing);
    watch.session(status.session_id);
    if (status.status === "running") {
      const previous = status.pid ?? null;
      // The dead process may have stored turns after its last status write (per-turn saves are
      // not fsynced, so after a power loss that can be every turn since the run started):
      // the turn number and the token totals are recounted from the session.
      const lastStoredTurn = store.allMessages().at(-1)?.turn ?? 0;
      const missed = storedUsage(store, status.turn, manifest.data.pricing);
      status = {
        ...status,
        status: "paused",
        pid: undefined,
        turn: Math.max(status.turn, lastStoredTurn),
        usage: addUsage(status.usage, missed.usage),
        cost_usd: addCost(status.cost_usd ?? 0, missed.cost),
      };
      await writeStatus(paths.status, status);
      watch.repaired(`the previous run${previous ? ` (pid ${previous})` : ""} ended without saving its status (killed or crashed); the pod is now paused and can be resumed with \`pod resume\``, previous);
    }
    await snapshotManifest(paths, manifest);

    const owned: OwnedPod = {
      paths,
      manifest,
      status,
      store,
      async saveStatus(next, opts) {
        lock.assertHeld();
        owned.status = next;
        await writeStatus(paths.status, next, opts);
      },
      async switchSession(id) {
        if (id === owned.store.id) return;
        const next = await SessionStore.openForAppend(paths.sessions, id, guard);
        await owned.store.close();
        owned.store = next;
        watch.session(id);
        // Token totals are recounted from the usage stored with the session's model messages.
        await owned.saveStatus(statusOfStoredSession(name, next, manifest.data.pricing));
      },
      async release() {
        await owned.store.close();
        await release();
      },
    };
    return owned;
  } catch (err) {
    await release().catch(() => {});
    throw err;
  }
}

/**
 * status.json and the current session, rebuilt when status.json is missing or
 * damaged but sessions exist: the damaged file is kept as status.json.corrupt-<time>
 * and the newest session becomes current again, so no history is orphaned.
 */
async function loadState(paths: PodPaths, name: string, watch: PodWatch, guard: WriteGuard, pricing: PriceOverrides): Promise<{ status: Status; store: SessionStore }> {
  const { status, damaged } = await readOrSetAside(paths);
  if (status) return { status, store: await SessionStore.openForAppend(paths.sessions, status.session_id, guard) };

  const latest = (await SessionStore.list(paths.sessions)).filter((s) => s.messages >= 0).at(-1);
  if (!latest) {
    const store = await SessionStore.create(paths.sessions, undefined, guard);
    const fresh = freshStatus(name, store.id);
    await writeStatus(paths.status, fresh);
    if (damaged) watch.repaired(`${paths.status} was damaged; kept it as ${damaged} and started a fresh session`, null);
    return { status: fresh, store };
  }
  const store = await SessionStore.openForAppend(paths.sessions, latest.id, guard);
  const messages = store.messages();
  const last = messages.at(-1);
  // A session that ends mid-turn (a prompt or open tool calls) was interrupted: resumable.
  const interrupted = last !== undefined && (last.role === "user" || unsettledToolUses(messages).length > 0);
  const recounted = storedUsage(store, 0, pricing);
  const rebuilt: Status = {
    ...freshStatus(name, store.id),
    status: interrupted ? "paused" : "idle",
    turn: store.allMessages().at(-1)?.turn ?? 0,
    usage: recounted.usage,
    cost_usd: recounted.cost,
  };
  await writeStatus(paths.status, rebuilt);
  watch.session(store.id);
  watch.repaired(`${paths.status} was ${damaged ? `damaged (kept as ${damaged})` : "missing"}; rebuilt it from session ${store.id} (${interrupted ? "paused" : "idle"}; token totals recounted from the session)`, null);
  return { status: rebuilt, store };
}

/** status.json, or undefined; a damaged one is kept as status.json.corrupt-<time> (it is replaced next). */
async function readOrSetAside(paths: PodPaths): Promise<{ status: Status | undefined; damaged: string | undefined }> {
  try {
    return { status: await readStatus(paths.status), damaged: undefined };
  } catch (err) {
    if (!existsSync(paths.status) || (err instanceof PodError && err.code !== "internal")) throw err;
    const damaged = `${paths.status}.corrupt-${Date.now()}`;
    await rename(paths.status, damaged);
    return { status: undefined, damaged };
  }
}

/**
 * `pod new`: one fresh session, made current, without reading the old one (it may be
 * the damaged thing being recovered from; it stays in the store as it is).
 */
async function startFresh(paths: PodPaths, name: string, watch: PodWatch, guard: WriteGuard): Promise<{ status: Status; store: SessionStore }> {
  const { status: previous, damaged } = await readOrSetAside(paths);
  const store = await SessionStore.create(paths.sessions, undefined, guard);
  const status = freshStatus(name, store.id);
  guard.beforeWrite?.();
  await writeStatus(paths.status, status);
  watch.session(store.id);
  if (damaged) watch.repaired(`${paths.status} was damaged; kept it as ${damaged} and started a fresh session`, null);
  else if (previous?.status === "running") {
    watch.repaired(`the previous run${previous.pid ? ` (pid ${previous.pid})` : ""} ended without saving its status (killed or crashed); its session ${previous.session_id} is kept, and a fresh one is current`, previous.pid ?? null);
  }
  return { status, store };
}

/**
 * The tokens (and their estimated cost) of the model messages stored after turn `afterTurn`,
 * from the usage each one was stored with. A message stored without it (older versions)
 * counts 0 tokens.
 */
function storedUsage(store: SessionStore, afterTurn: number, pricing: PriceOverrides): { usage: Usage; cost: number | null } {
  let usage: Usage = { ...ZERO_USAGE };
  let cost: number | null = 0;
  for (const s of store.allMessages()) {
    if (s.turn <= afterTurn || !s.usage) continue;
    usage = addUsage(usage, s.usage);
    cost = addCost(cost, s.model === undefined ? null : costUsd(s.model, s.usage, pricing));
  }
  return { usage, cost };
}

/** The status of a stored session made current by --session: paused when it ends mid-turn (as loadState decides), else idle. */
function statusOfStoredSession(name: string, store: SessionStore, pricing: PriceOverrides): Status {
  const messages = store.messages();
  const last = messages.at(-1);
  const interrupted = last !== undefined && (last.role === "user" || unsettledToolUses(messages).length > 0);
  const { usage, cost } = storedUsage(store, 0, pricing);
  return { ...freshStatus(name, store.id), status: interrupted ? "paused" : "idle", turn: store.allMessages().at(-1)?.turn ?? 0, usage, cost_usd: cost };
}

/** Writes the manifest snapshot; a changed manifest keeps the previous snapshot as manifest.toml.prev. */
async function snapshotManifest(paths: PodPaths, manifest: Manifest): Promise<void> {
  const next = manifestSnapshot(manifest);
  const body = (text: string) => text.slice(text.indexOf("\n") + 1);
  const previous = await readFile(paths.manifest, "utf8").catch(() => undefined);
  if (previous !== undefined && body(previous) !== body(next)) {
    await writeFileAtomic(`${paths.manifest}.prev`, previous);
    process.stderr.write(`pod: the manifest changed since the last run (${manifest.file} was edited, or this run's command-line overrides differ); using it as it is now (the previous snapshot is kept as ${paths.manifest}.prev)\n`);
  }
  if (previous !== next) await writeFileAtomic(paths.manifest, next);
}
