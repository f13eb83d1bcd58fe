import { randomBytes } from "node:crypto";
import { closeSync, constants, existsSync, fstatSync, fsyncSync, lstatSync, openSync, realpathSync, renameSync, unlinkSync, writeSync } from "node:fs";
import path from "node:path";
import { PodError } from "../errors.js";
import { writeError } from "./atomic-file.js";

/**
 * A file the operator named on the command line (`-o FILE`, `--diff FILE`, `--sarif FILE`),
 * resolved when the run begins and written at its end, when the model has had the whole
 * run to plant links (`reports -> /elsewhere`). The one writer of all three.
 *
 * - At start: the directory's real path, and the directory itself held open; a target
 *   that is a symlink, or not a regular file, is refused (invalid_input, exit 2 — before
 *   anything is paid for).
 * - At the end: the directory must still be that same directory at that same path (a
 *   directory swapped for a symlink or moved away is refused with `contract_changed`,
 *   not followed); the file is written beside the target under a fresh name
 *   (O_EXCL | O_NOFOLLOW), fsynced, and renamed over it. A rename replaces a symlink
 *   planted at the target instead of following it. On Linux every step goes through
 *   /proc/self/fd/N of the directory held open, so no path component can be swapped
 *   between the check and the write.
 */
export interface OperatorFile {
  /** The flag and the path as given, for messages: "-o reports/summary.md". */
  shown: string;
  /** The directory's real path at start. */
  dir: string;
  name: string;
  /** The directory, held open for the run (closed when the process ends). */
  dirFd: number;
  dev: number;
  ino: number;
}

/** Resolves `flag FILE` (relative to the current directory) before the run. */
export function resolveOperatorFile(flag: string, given: string): OperatorFile {
  const shown = `${flag} ${given}`;
  const bad = (why: string, fix: string) => new PodError("invalid_input", `${shown}: ${why}`, fix);
  const abs = path.resolve(given);
  const name = path.basename(abs);
  let dir: string;
  let dirFd: number;
  try {
    dir = realpathSync(path.dirname(abs));
  } catch {
    throw bad(`the directory ${path.dirname(abs)} does not exist`, "create it first, or write the file somewhere that exists");
  }
  try {
    dirFd = openSync(dir, constants.O_RDONLY | constants.O_DIRECTORY);
  } catch (err) {
    throw bad(`${path.dirname(abs)} cannot be opened as a directory (${(err as NodeJS.ErrnoException).code})`, "give a path in an existing directory pod can read");
  }
  const refuse = (err: PodError) => {
    closeSync(dirFd);
    return err;
  };
  let st;
  try {
    st = lstatSync(path.join(dir, name), { throwIfNoEntry: false });
  } catch (err) {
    throw refuse(bad(`cannot check ${abs} (${(err as NodeJS.ErrnoException).code})`, "give a path pod can write"));
  }
  if (st?.isSymbolicLink()) throw refuse(bad(`${abs} is a symlink; pod does not write through links`, "give the path of the file itself (or remove the link)"));
  if (st && !st.isFile()) throw refuse(bad(`${abs} exists and is not a regular file`, "give the path of a regular file, or one that does not exist yet"));
  const dst = fstatSync(dirFd);
  return { shown, dir, name, dirFd, dev: dst.dev, ino: dst.ino };
}

/** Writes the whole file or nothing; throws a PodError naming the target when it must not or cannot be written. */
export async function writeOperatorFile(target: OperatorFile, data: Buffer | string): Promise<void> {
  const now = lstatSync(target.dir, { throwIfNoEntry: false });
  let real: string | undefined;
  try {
    real = realpathSync(target.dir);
  } catch {
    real = undefined;
  }
  if (!now?.isDirectory() || now.dev !== target.dev || now.ino !== target.ino || real !== target.dir) {
    throw new PodError(
      "contract_changed",
      `${target.shown}: not written: its directory ${target.dir} was moved or replaced during the run (by a symlink or another directory), so nothing went where the operator did not point`,
      "write the file outside the workspace the agent can change (e.g. in $RUNNER_TEMP), or find what replaced the directory (a tool call, a hook), restore it, and run again",
    );
  }
  // Linux: the directory held open, by its descriptor. Elsewhere: the checked path.
  const procDir = `/proc/self/fd/${target.dirFd}`;
  const base = process.platform === "linux" && existsSync(procDir) ? procDir : target.dir;
  const tmp = path.join(base, `.${target.name}.${process.pid}.${randomBytes(4).toString("hex")}.tmp`);
  const bytes = typeof data === "string" ? Buffer.from(data, "utf8") : data;
  let fd: number | undefined;
  try {
    fd = openSync(tmp, constants.O_WRONLY | constants.O_CREAT | constants.O_EXCL | constants.O_NOFOLLOW, 0o644);
    for (let off = 0; off < bytes.length; ) off += writeSync(fd, bytes, off, bytes.length - off);
    fsyncSync(fd);
    closeSync(fd);
    fd = undefined;
    renameSync(tmp, path.join(base, target.name));
  } catch (err) {
    if (fd !== undefined) closeSync(fd);
    try {
      unlinkSync(tmp);
    } catch {
      // never created, or already renamed
    }
    const e = writeError(path.join(target.dir, target.name), err);
    throw new PodError(e.code, `${target.shown}: not written: ${e.message}`, e.hint);
  }
  try {
    fsyncSync(target.dirFd);
  } catch {
    // Not every filesystem syncs a directory: the rename is still atomic.
  }
}
