import { randomBytes } from "node:crypto";
import { closeSync, constants, existsSync, fstatSync, fsyncSync, lstatSync, openSync, realpathSync, renameSync, unlinkSync, writeSync } from "node:fs";
import path from "node:path";
import { PodError } from "../errors.js";
import { writeError } from "../store/atomic-file.js";

/**
 * A file the operator named on the command line (`--diff FILE`, `--sarif FILE`),
 * resolved when the run begins and written at its end, when the model has had the
 * whole run to plant links. (A reusable module for every such file, `-o` included, is
 * being built on branch `trust`; `writeOperatorFile` is the one function to switch.)
 *
 * - At start: the directory's real path, and the directory itself held open; a target
 *   that is a symlink, or not a regular file, is refused (usage error).
 * - At the end: the directory must still be that same directory at that same path (a
 *   directory swapped for a symlink or moved away is refused, not followed); the file
 *   is written beside the target under a fresh name (O_EXCL | O_NOFOLLOW), fsynced,
 *   and renamed over it. A rename replaces a symlink planted at the target instead of
 *   following it. On Linux every step goes through /proc/self/fd/N of the directory
 *   held open, so no path component can be swapped between the check and the write.
 */
export interface OperatorTarget {
  /** The flag, for messages: "--diff". */
  flag: string;
  /** As given, for messages. */
  given: string;
  /** The directory's real path at start. */
  dir: string;
  name: string;
  /** The directory, held open for the run. */
  dirFd: number;
  dev: number;
  ino: number;
}

/** Resolves `--flag FILE` before the run: its directory must exist; the file must not be a symlink or a directory. */
export function resolveOperatorTarget(flag: string, given: string): OperatorTarget {
  const bad = (why: string, fix: string) => new PodError("invalid_input", `${flag} ${given}: ${why}`, fix);
  const abs = path.resolve(given);
  const name = path.basename(abs);
  let dir: string;
  let dirFd: number;
  try {
    dir = realpathSync(path.dirname(abs));
    dirFd = openSync(dir, constants.O_RDONLY | constants.O_DIRECTORY);
  } catch {
    throw bad(`the directory ${path.dirname(abs)} does not exist`, "create it first, or write the file somewhere that exists");
  }
  const st = lstatSync(path.join(dir, name), { throwIfNoEntry: false });
  const refuse = (err: PodError) => {
    closeSync(dirFd);
    return err;
  };
  if (st?.isSymbolicLink()) throw refuse(bad("it is a symlink; pod does not write through links", "give the path of the file itself (or remove the link)"));
  if (st && !st.isFile()) throw refuse(bad("it exists and is not a regular file", "give the path of a file to create or replace"));
  const dst = fstatSync(dirFd);
  return { flag, given, dir, name, dirFd, dev: dst.dev, ino: dst.ino };
}

/** Writes the whole file or nothing; throws a PodError naming the target when it must not or cannot be written. */
export async function writeOperatorFile(target: OperatorTarget, data: Buffer | string): Promise<void> {
  const shown = `${target.flag} ${target.given}`;
  const now = lstatSync(target.dir, { throwIfNoEntry: false });
  let real: string | undefined;
  try {
    real = realpathSync(target.dir);
  } catch {
    real = undefined;
  }
  if (!now?.isDirectory() || now.dev !== target.dev || now.ino !== target.ino || real !== target.dir) {
    throw new PodError(
      "invalid_input",
      `${shown}: not written: its directory ${target.dir} was moved or replaced during the run (by a symlink or another directory), so it is not where the run began`,
      "write the file outside the workspace the agent can change (e.g. in $RUNNER_TEMP), or find out what replaced the directory",
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
    throw new PodError(e.code, `${shown}: not written: ${e.message}`, e.hint);
  }
  try {
    fsyncSync(target.dirFd);
  } catch {
    // Not every filesystem syncs a directory: the rename is still atomic.
  }
}
