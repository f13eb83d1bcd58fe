import { mkdir, readFile, writeFile } from "node:fs/promises";
import lockfile from "proper-lockfile";
import { PodError } from "../errors.js";
import { processAlive } from "./process-alive.js";

/**
 * The pod lock: a proper-lockfile lock directory, held for an invocation's whole
 * life. The owner refreshes its mtime every second; a lock whose mtime is older
 * than STALE_MS is stale and may be taken over. When status.json names an owner pid
 * that no longer exists (kill -9), the lock is known to be dead, so we take it as
 * soon as it is DEAD_OWNER_STALE_MS old instead of waiting the full STALE_MS.
 * The owner's pid is also kept in `lock.owner`, written right after the lock is
 * taken, which covers a process killed before its first status.json write.
 */
export const STALE_MS = 10_000;
export const UPDATE_MS = 1_000;
export const DEAD_OWNER_STALE_MS = 2_000;

export type ReleaseLock = () => Promise<void>;

export interface LockOptions {
  /** The pid status.json names as owner, if any: it decides how long to wait for a dead lock. */
  recordedOwner?: number | undefined;
  /** Called if the lock is lost while held (e.g. the event loop stalled past STALE_MS). */
  onCompromised: (err: Error) => void;
}

export async function acquirePodLock(podDir: string, lockPath: string, opts: LockOptions): Promise<ReleaseLock> {
  await mkdir(podDir, { recursive: true });
  // The lock's own owner record is written the moment the lock is taken, so it names
  // the owner even when that process died before it could write status.json.
  const ownerFile = `${lockPath}.owner`;
  const lockOwner = await readOwner(ownerFile);
  const deadOwner = [lockOwner, opts.recordedOwner].some((pid) => pid !== undefined && pid !== process.pid && !processAlive(pid));
  let release: ReleaseLock;
  try {
    release = await lockfile.lock(podDir, {
      lockfilePath: lockPath,
      realpath: false,
      stale: deadOwner ? DEAD_OWNER_STALE_MS : STALE_MS,
      update: UPDATE_MS,
      // Only a dead owner is worth waiting for: it becomes stale within DEAD_OWNER_STALE_MS.
      retries: deadOwner ? { retries: 8, minTimeout: 300, maxTimeout: 400, factor: 1 } : 0,
      onCompromised: opts.onCompromised,
    });
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === "ELOCKED") {
      throw new PodError(
        "already_running",
        `pod is already running${opts.recordedOwner ? ` (pid ${opts.recordedOwner})` : ""}`,
        "wait for it to finish, or stop it with `pod cancel`",
      );
    }
    throw new PodError("internal", `cannot take the pod lock ${lockPath}: ${(err as Error).message}`, "check that the runtime directory is writable");
  }
  await writeFile(ownerFile, `${process.pid}\n`).catch(() => {});
  return release;
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
