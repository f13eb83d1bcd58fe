import { randomBytes } from "node:crypto";
import { constants, existsSync } from "node:fs";
import { lstat, open, realpath, rename, stat, unlink } from "node:fs/promises";
import path from "node:path";
import { PodError } from "../errors.js";
import { syncDir, writeError } from "./atomic-file.js";

/**
 * A file the operator asked pod to write (`-o`, later `--diff` and `--sarif`), resolved
 * before the run: the model may replace a directory on the way with a link during the
 * run (`reports -> /elsewhere`), so the target is fixed at start — the real path of its
 * directory and that directory's identity (dev/ino) — and written at the end only into
 * that same directory, never through a link made later.
 */
export interface OutputTarget {
  /** The flag and path as given, for messages (`-o reports/summary.md`). */
  shown: string;
  /** The real path of the target's directory at start. */
  dir: string;
  /** The file's name in it. */
  name: string;
  dev: number;
  ino: number;
}

/**
 * Resolves `file` (relative to the current directory) at start. Refused (invalid_input,
 * before anything is paid for): a directory that does not exist, a target that is a
 * symlink or exists and is not a regular file.
 */
export async function resolveOutputTarget(file: string, flag: string): Promise<OutputTarget> {
  const shown = `${flag} ${file}`;
  const abs = path.resolve(file);
  const parent = path.dirname(abs);
  const bad = (why: string, fix: string) => new PodError("invalid_input", `${shown}: ${why}`, fix);
  if (!existsSync(parent)) throw bad(`the directory ${parent} does not exist`, "create it first, or write the file somewhere that exists");
  let dir: string;
  try {
    dir = await realpath(parent);
  } catch (err) {
    throw bad(`cannot resolve ${parent} (${(err as NodeJS.ErrnoException).code})`, "give a path in a directory pod can read");
  }
  const st = await stat(dir);
  if (!st.isDirectory()) throw bad(`${parent} is not a directory`, "give a path in an existing directory");
  const name = path.basename(abs);
  try {
    const t = await lstat(path.join(dir, name));
    if (t.isSymbolicLink()) throw bad(`${abs} is a symlink; pod does not write through links`, "give the path of the file itself (or remove the link)");
    if (!t.isFile()) throw bad(`${abs} exists and is not a regular file`, "give the path of a regular file, or one that does not exist yet");
  } catch (err) {
    if (err instanceof PodError) throw err;
    if ((err as NodeJS.ErrnoException).code !== "ENOENT") throw bad(`cannot check ${abs} (${(err as NodeJS.ErrnoException).code})`, "give a path pod can write");
  }
  return { shown, dir, name, dev: st.dev, ino: st.ino };
}

/**
 * Writes `data` to the target, atomically, into the directory resolved at start. The
 * directory is opened again and its identity compared with the one pinned at start: if
 * it was replaced (by a link, or another directory at the same path), nothing is written
 * and the run ends with `contract_changed`. On Linux the write then goes through the open
 * descriptor (/proc/self/fd/N), so no link made in between is followed either; elsewhere
 * through the checked path. The temp file is created O_EXCL|O_NOFOLLOW and renamed over
 * the target: a link planted at the target's name is replaced, never followed.
 */
export async function writeOutputTarget(t: OutputTarget, data: string): Promise<void> {
  let dirHandle;
  try {
    dirHandle = await open(t.dir, constants.O_RDONLY | constants.O_DIRECTORY);
  } catch (err) {
    throw replaced(t, `it cannot be opened now (${(err as NodeJS.ErrnoException).code})`);
  }
  try {
    const st = await dirHandle.stat();
    if (st.dev !== t.dev || st.ino !== t.ino) throw replaced(t, "another directory (or a link) is at that path now");
    const via = `/proc/self/fd/${dirHandle.fd}`;
    const base = existsSync(via) ? via : t.dir;
    const tmp = path.join(base, `.${t.name}.${process.pid}.${randomBytes(4).toString("hex")}.tmp`);
    const target = path.join(base, t.name);
    const file = path.join(t.dir, t.name);
    try {
      const h = await open(tmp, constants.O_WRONLY | constants.O_CREAT | constants.O_EXCL | constants.O_NOFOLLOW, 0o644);
      try {
        await h.writeFile(data, "utf8");
        await h.sync();
      } finally {
        await h.close();
      }
      await rename(tmp, target);
    } catch (err) {
      await unlink(tmp).catch(() => {});
      throw writeError(file, err);
    }
    await syncDir(t.dir);
  } finally {
    await dirHandle.close();
  }
}

function replaced(t: OutputTarget, why: string): PodError {
  return new PodError(
    "contract_changed",
    `${t.shown}: the directory ${t.dir} was replaced during the run (${why}); pod did not write the file, so nothing went where the operator did not point`,
    "find what replaced the directory (a tool call, a hook), restore it, and run again",
  );
}
