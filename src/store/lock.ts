import { readFileSync, renameSync, writeFileSync } from "node:fs";
import { mkdir, rmdir, stat } from "node:fs/promises";
import { setTimeout as sleep } from "node:timers/promises";
import lockfile from "proper-lockfile";
import { PodError } from "../errors.js";
import { formatIdentity, identityOf, ownerState, parseIdentity, type ProcessIdentity } from "./process-alive.js";
import { hostEnv } from "../env-config.js";

/**
 * The pod lock: a proper-lockfile lock directory, held for an invocation's whole life,
 * plus `lock.owner`, the holder's identity (`pid start-time host boot-id`), written the
 * moment the lock is taken.
 *
 * A stale mtime is NOT proof that the owner is dead: an owner whose event loop is
 * blocked (a long tool call, SIGSTOP, a swapped-out machine) cannot refresh it. So
 * proper-lockfile is never allowed to judge staleness itself (`stale: Infinity`), and
 * the lock is taken over only when:
 *  - its owner, named in `lock.owner`, is on this host and is dead: the pid is gone, a
 *    zombie, or now belongs to a process with another start time (pid reuse) or from
 *    another boot — and the lock has not been refreshed for DEAD_OWNER_STALE_MS
 *    (a newer holder may not have named itself yet); or
 *  - no owner is named (a holder killed between taking the lock and naming itself)
 *    and the lock is DEAD_OWNER_STALE_MS old; or
 *  - the owner is on another host (a runtime dir on NFS): its pid cannot be checked
 *    from here, so only the mtime can judge, after REMOTE_STALE_MS without a refresh.
 * A live owner on this host is never displaced: the answer is `already_running` at once.
 * A dead owner's lock is taken within about 2.5 s (the state is re-read every 250 ms).
 */
export const UPDATE_MS = 1_000;
export const DEAD_OWNER_STALE_MS = deadOwnerStaleMs(hostEnv().POD_TEST_DEAD_OWNER_STALE_MS);
export const REMOTE_STALE_MS = 60_000;

/**
 * A test seam, not a setting (README's Development section says so; no user doc offers it):
 * POD_TEST_DEAD_OWNER_STALE_MS shortens the dead-owner grace, so a crash test (kill -9,
 * then resume) need not wait 2 s for every kill. It is read here and nowhere else, and it
 * cannot weaken what the lock is for:
 *  - it moves only the grace for an owner already proven dead (or never named); a live
 *    owner on this host is refused whatever it says, and a remote owner keeps its 60 s;
 *  - only whole milliseconds from 100 to 2000 count: it can shorten the grace, never
 *    remove it (0, a negative, a typo or more than 2 s all mean the default 2 s);
 *  - it comes only from the environment pod was started with: a manifest, a file in the
 *    scope or a tool call cannot set it for pod (a pod the model starts through Bash gets
 *    it only for itself, and still finds the running pod alive).
 * What the grace still guards (a newcomer's moment between taking a dead owner's lock and
 * naming itself) needs milliseconds; the 2 s default is margin for a machine under load.
 */
export function deadOwnerStaleMs(raw: string | undefined): number {
  const ms = /^\d{3,4}$/.test(raw ?? "") ? Number(raw) : NaN;
  return ms >= 100 && ms <= 2_000 ? ms : 2_000;
}

export interface HeldLock {
  release(): Promise<void>;
  /**
   * Throws unless this process still holds the lock: called before every write to
   * the pod's state, so a process that lost the lock (possible only if it was judged
   * dead, or across hosts) stops writing instead of mixing its writes with the new owner's.
   */
  assertHeld(): void;
}

export interface LockOptions {
  /** Called if the lock is lost while held (removed, or taken by another process). */
  onCompromised: (err: Error) => void;
}

export async function acquirePodLock(podDir: string, lockPath: string, opts: LockOptions): Promise<HeldLock> {
  await mkdir(podDir, { recursive: true });
  const ownerFile = `${lockPath}.owner`;
  const deadline = Date.now() + DEAD_OWNER_STALE_MS + 1500;
  // Set when a fresh lock was held by a process that had not named itself yet: a live
  // run that started with us. If it is released while we wait, that run happened, so
  // we were refused, not queued behind it (runs started at once: exactly one runs).
  let heldByNewcomer = false;
  for (;;) {
    let lost: Error | undefined;
    try {
      const release = await lockfile.lock(podDir, {
        lockfilePath: lockPath,
        realpath: false,
        // Never judged stale by mtime alone (see above). For the owner this also means a
        // stalled event loop does not count as losing the lock: proper-lockfile then only
        // reports it compromised when the lock was removed or another process's mtime is on it.
        stale: Infinity,
        update: UPDATE_MS,
        retries: 0,
        onCompromised: (err) => {
          lost = err;
          opts.onCompromised(err);
        },
      });
      const me = formatIdentity(identityOf(process.pid));
      try {
        writeOwner(ownerFile, me);
      } catch (err) {
        // An unnamed lock could be taken from us after a 2 s stall: do not run without a name on it.
        await release().catch(() => {});
        throw lockError(ownerFile, err);
      }
      return {
        release,
        assertHeld() {
          const reason = lost ? lost.message : readOwnerText(ownerFile) !== me ? "another process's name is on the lock" : undefined;
          if (reason) {
            throw new PodError(
              "already_running",
              `this run lost the pod lock (${reason}): another pod process owns the pod now, so this one stops without writing`,
              "check `pod status`; this run's completed turns are kept",
            );
          }
        },
      };
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== "ELOCKED") throw lockError(lockPath, err);
    }

    const owner = parseIdentity(readOwnerText(ownerFile) ?? "");
    const state = owner ? ownerState(owner) : "unknown";
    if (state === "alive") throw alreadyRunning(owner);
    const age = await lockAge(lockPath);
    if (age === undefined) {
      if (heldByNewcomer) throw alreadyRunning(undefined);
      continue; // a dead owner's lock removed by another newcomer: try again at once
    }
    const threshold = state === "other-host" ? REMOTE_STALE_MS : DEAD_OWNER_STALE_MS;
    if (age >= threshold) {
      // The owner is gone (or, across hosts, silent for REMOTE_STALE_MS): remove its lock and try again.
      await removeStaleLock(lockPath);
      heldByNewcomer = false; // that holder died unnamed: nobody ran
      continue;
    }
    if (Date.now() > deadline) throw alreadyRunning(owner, state === "other-host");
    if (state === "unknown") heldByNewcomer = true;
    // A fresh lock whose holder is not (yet) named, or a dead owner's lock a newcomer may just have taken.
    await sleep(250);
  }
}

function alreadyRunning(owner: ProcessIdentity | undefined, remote = false): PodError {
  const who = owner ? ` (pid ${owner.pid}${remote ? ` on host ${owner.host}` : ""})` : "";
  return new PodError(
    "already_running",
    `pod is already running${who}`,
    remote
      ? `wait for it to finish; a lock held from another host is taken over only after ${REMOTE_STALE_MS / 1000}s without a refresh`
      : "wait for it to finish, or stop it with `pod cancel`",
  );
}

function lockError(lockPath: string, err: unknown): PodError {
  if (err instanceof PodError) return err;
  const code = (err as NodeJS.ErrnoException).code ?? (err as Error).message;
  return new PodError(
    "invalid_input",
    `cannot take the pod lock ${lockPath} (${code})`,
    "make the runtime directory writable, or choose another with --runtime-dir or $POD_RUNTIME_DIR",
  );
}

async function lockAge(lockPath: string): Promise<number | undefined> {
  try {
    return Date.now() - (await stat(lockPath)).mtimeMs;
  } catch {
    return undefined;
  }
}

async function removeStaleLock(lockPath: string): Promise<void> {
  try {
    await rmdir(lockPath);
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    if (code === "ENOENT") return;
    if (code === "ENOTEMPTY" || code === "EEXIST" || code === "ENOTDIR") {
      throw new PodError(
        "invalid_input",
        `the pod lock ${lockPath} is not an empty directory (something else wrote there)`,
        `if no pod process is running for this pod, remove it (rm -r ${lockPath}) and run again`,
      );
    }
    throw lockError(lockPath, err);
  }
}

/** Written whole (temp file + rename) so a reader never sees half an identity. */
function writeOwner(file: string, text: string): void {
  const tmp = `${file}.${process.pid}.tmp`;
  writeFileSync(tmp, text);
  renameSync(tmp, file);
}

function readOwnerText(file: string): string | undefined {
  try {
    return readFileSync(file, "utf8");
  } catch {
    return undefined;
  }
}

/** Whether some process holds the pod lock right now (for read-only commands): a live owner, or a fresh lock. */
export async function isLocked(_podDir: string, lockPath: string): Promise<boolean> {
  const age = await lockAge(lockPath);
  if (age === undefined) return false;
  const owner = parseIdentity(readOwnerText(`${lockPath}.owner`) ?? "");
  const state = owner ? ownerState(owner) : "unknown";
  if (state === "alive") return true;
  if (state === "dead") return false;
  return age < (state === "other-host" ? REMOTE_STALE_MS : DEAD_OWNER_STALE_MS);
}
