import { randomBytes } from "node:crypto";
import { open, rename, unlink } from "node:fs/promises";
import path from "node:path";
import { PodError } from "../errors.js";

/**
 * Replaces `file` with `data` so that a crash at any instant leaves either the old
 * or the new content, never a mix: write a temp file in the same directory, fsync
 * it, rename it over the target, fsync the directory.
 *
 * `durable: false` skips both fsyncs: still atomic for readers and against a killed
 * process (rename is atomic), but a power loss may leave the previous content, or on
 * some filesystems an empty file. Only for files that are repaired from others
 * (status.json's per-turn progress, rebuilt from the session).
 */
export async function writeFileAtomic(file: string, data: string, opts: { durable?: boolean } = {}): Promise<void> {
  try {
    await replaceFile(file, data, opts.durable ?? true);
  } catch (err) {
    throw writeError(file, err);
  }
}

/** A failed write as a PodError naming the file and the fix (disk full above all). */
export function writeError(file: string, err: unknown): PodError {
  if (err instanceof PodError) return err;
  const code = (err as NodeJS.ErrnoException).code ?? (err as Error).message;
  const hint =
    code === "ENOSPC" || code === "EDQUOT"
      ? "free disk space, then `pod resume` (every completed turn is kept)"
      : `make ${path.dirname(file)} writable, or choose another runtime directory with --runtime-dir or $POD_RUNTIME_DIR`;
  // Permissions are the environment's to fix (usage, exit 2 when refused before a run); a full disk or I/O error is a failure (exit 1).
  const usage = code === "EACCES" || code === "EPERM" || code === "EROFS";
  return new PodError(usage ? "invalid_input" : "internal", `cannot write ${file} (${code === "ENOSPC" ? "ENOSPC: no space left on device" : code})`, hint);
}

async function replaceFile(file: string, data: string, durable: boolean): Promise<void> {
  const tmp = path.join(path.dirname(file), `.${path.basename(file)}.${process.pid}.${randomBytes(4).toString("hex")}.tmp`);
  const handle = await open(tmp, "w", 0o644);
  try {
    await handle.writeFile(data, "utf8");
    if (durable) await handle.sync();
  } catch (err) {
    await handle.close().catch(() => {});
    await unlink(tmp).catch(() => {});
    throw err;
  }
  await handle.close();
  try {
    await rename(tmp, file);
  } catch (err) {
    await unlink(tmp).catch(() => {});
    throw err;
  }
  if (durable) await syncDir(path.dirname(file));
}

/** Makes a rename or a new file in `dir` durable. Not every filesystem allows it; that is not an error. */
export async function syncDir(dir: string): Promise<void> {
  try {
    const handle = await open(dir, "r");
    try {
      await handle.sync();
    } finally {
      await handle.close();
    }
  } catch {
    // EISDIR/EINVAL on some filesystems: durability is best-effort there.
  }
}
