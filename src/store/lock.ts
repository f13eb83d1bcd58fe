import { mkdir, readFile, writeFile } from "node:fs/promises";
import { setTimeout as sleep } from "node:timers/promises";
import lockfile from "proper-lockfile";
import { PodError } from "../errors.js";
import { processAlive } from "./process-alive.js";

/**
 * The pod lock: a proper-lockfile lock directory, held for an invocation's whole
 * life. The owner refreshes its mtime every second (UPDATE_MS) and names itself in
 * `lock.owner` the moment it has the lock. A lock whose owner is alive is only taken
 * over after STALE_MS without a refresh (an owner stalled that long has lost it).
 * A lock whose owner is dead (kill -9) or not yet named is taken once it is
 * DEAD_OWNER_STALE_MS old: a live owner would have refreshed it by then. The
 * pid is re-read every 250 ms, so a refusal for a live owner comes at once and a
 * dead owner's lock is taken within about 2.5 s.
 */
export const STALE_MS = 10_000;
export const UPDATE_MS = 1_000;
export const DEAD_OWNER_STALE_MS = 2_000;

export type ReleaseLock = () => Promise<void>;

export interface LockOptions {
  /** The pid status.json names as owner, if any: with lock.owner it decides whether to wait for a dead lock. */
  recordedOwner?: number | undefined;
  /** Called if the lock is lost while held (e.g. the event loop stalled past STALE_MS). */
  onCompromised: (err: Error) => void;
}

export async function acquirePodLock(podDir: string, lockPath: string, opts: LockOptions): Promise<ReleaseLock> {
  await mkdir(podDir, { recursive: true });
  // The lock's own owner record is written the moment the lock is taken, so it names
  // the owner even when that process died before it could write status.json.
  const ownerFile = `${lockPath}.owner`;
  const deadline = Date.now() + DEAD_OWNER_STALE_MS + 1500;
  for (;;) {
    const owners = [await readOwner(ownerFile), opts.recordedOwner].filter((pid): pid is number => pid !== undefined && pid !== process.pid);
    const liveOwner = owners.find(processAlive);
    try {
      const release = await lockfile.lock(podDir, {
        lockfilePath: lockPath,
        realpath: false,
        // A live owner refreshes the lock every second, so it is never 2 s old; a dead
        // or unknown one (killed before it wrote lock.owner) soon is.
        stale: liveOwner ? STALE_MS : DEAD_OWNER_STALE_MS,
        update: UPDATE_MS,
        retries: 0,
        onCompromised: opts.onCompromised,
      });
      await writeFile(ownerFile, `${process.pid}\n`).catch(() => {});
      return release;
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== "ELOCKED") {
        throw new PodError("internal", `cannot take the pod lock ${lockPath}: ${(err as Error).message}`, "check that the runtime directory is writable");
      }
      if (liveOwner !== undefined || Date.now() > deadline) {
        throw new PodError(
          "already_running",
          `pod is already running${liveOwner ? ` (pid ${liveOwner})` : ""}`,
          "wait for it to finish, or stop it with `pod cancel`",
        );
      }
      // Owner dead or not yet known: look again shortly (a new owner names itself within milliseconds).
      await sleep(250);
    }
  }
}

async function readOwner(file: string): Promise<number | undefined> {
  try {
    const pid = Number((await readFile(file, "utf8")).trim());
    return Number.isInteger(pid) && pid > 0 ? pid : undefined;
  } catch {
    return undefined;
  }
}

/** Whether some process holds the pod lock right now (for read-only commands). */
export async function isLocked(podDir: string, lockPath: string): Promise<boolean> {
  try {
    return await lockfile.check(podDir, { lockfilePath: lockPath, realpath: false, stale: STALE_MS });
  } catch {
    return false;
  }
}
