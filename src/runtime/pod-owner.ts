import { mkdir } from "node:fs/promises";
import type { EventSink } from "../events/sink.js";
import { manifestSnapshot, type Manifest } from "../manifest.js";
import { SessionStore } from "../store/session-store.js";
import { writeFileAtomic } from "./atomic-file.js";
import { acquirePodLock } from "./lock.js";
import { podPaths, type PodPaths } from "./paths.js";
import { freshStatus, readStatus, writeStatus, type Status } from "./status.js";

/** A pod this process owns: the lock is held until `release()`. */
export interface OwnedPod {
  paths: PodPaths;
  manifest: Manifest;
  status: Status;
  store: SessionStore;
  saveStatus(next: Status): Promise<void>;
  /** Starts a fresh session (old ones stay in the store) and makes it current. */
  startNewSession(): Promise<void>;
  release(): Promise<void>;
}

export interface TakeOptions {
  /** Called if the lock is lost while held; the caller should stop the run. */
  onLockLost: (err: Error) => void;
}

/**
 * Takes the pod lock and loads status and the current session. Creates the runtime
 * files on first use, and repairs a `running` status left by a process that died
 * (we hold the lock, so its owner is gone) to `paused`, saying so in an event.
 */
export async function takePod(manifest: Manifest, runtimeDir: string, sink: EventSink, opts: TakeOptions): Promise<OwnedPod> {
  const paths = podPaths(runtimeDir, manifest.data.pod.name);
  const name = manifest.data.pod.name;
  await mkdir(paths.dir, { recursive: true });
  const before = await readStatus(paths.status).catch(() => undefined);
  if (before?.session_id) sink.sessionId = before.session_id;
  const release = await acquirePodLock(paths.dir, paths.lock, { recordedOwner: before?.pid, onCompromised: opts.onLockLost });
  try {
    let status = await readStatus(paths.status);
    let store: SessionStore;
    if (!status) {
      store = await SessionStore.create(paths.sessions);
      status = freshStatus(name, store.id);
      await writeStatus(paths.status, status);
    } else {
      store = await SessionStore.openForAppend(paths.sessions, status.session_id);
    }
    sink.sessionId = status.session_id;
    if (status.status === "running") {
      const previous = status.pid ?? null;
      // The dead process may have stored a turn after its last status write.
      const lastStoredTurn = store.allMessages().at(-1)?.turn ?? 0;
      status = { ...status, status: "paused", pid: undefined, turn: Math.max(status.turn, lastStoredTurn) };
      await writeStatus(paths.status, status);
      sink.emit("state_repaired", {
        message: `the previous run${previous ? ` (pid ${previous})` : ""} ended without saving its status (killed or crashed); the pod is now paused and can be resumed with \`pod resume\``,
        previous_pid: previous,
      });
    }
    await writeFileAtomic(paths.manifest, manifestSnapshot(manifest));

    const owned: OwnedPod = {
      paths,
      manifest,
      status,
      store,
      async saveStatus(next) {
        owned.status = next;
        await writeStatus(paths.status, next);
      },
      async startNewSession() {
        await owned.store.close();
        owned.store = await SessionStore.create(paths.sessions);
        sink.sessionId = owned.store.id;
        await owned.saveStatus(freshStatus(name, owned.store.id));
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
