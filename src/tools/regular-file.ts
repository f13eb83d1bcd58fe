import { constants, type Stats } from "node:fs";
import { lstat, open, type FileHandle } from "node:fs/promises";

export type Opened = { ok: true; handle: FileHandle; st: Stats } | { ok: false; message: string };

/** What a non-regular file is, in the words the model sees. */
export function describeKind(st: Stats): string {
  if (st.isDirectory()) return "a directory";
  if (st.isFIFO()) return "a named pipe (FIFO)";
  if (st.isSocket()) return "a socket";
  if (st.isCharacterDevice()) return "a character device";
  if (st.isBlockDevice()) return "a block device";
  if (st.isSymbolicLink()) return "a symlink";
  return "not a regular file";
}

/**
 * Opens a regular file for reading without ever blocking on something that is not
 * one: opening a FIFO for reading waits for a writer, and reading a device can
 * never end. lstat first refuses the common case without opening anything; the
 * open itself is O_NONBLOCK (a FIFO open returns at once) and O_NOFOLLOW, and the
 * fd is fstat'ed, so a file swapped for a FIFO or a symlink between the two checks
 * is refused too. `abs` is an already resolved real path, so no symlink is expected.
 */
export async function openRegular(abs: string, shown: string): Promise<Opened> {
  const refuse = (st: Stats): Opened => ({
    ok: false,
    message: st.isDirectory() ? `${shown} is a directory. Use Glob to list it.` : `${shown} is ${describeKind(st)}, not a regular file; only regular files can be read or edited.`,
  });
  try {
    const st = await lstat(abs);
    if (!st.isFile()) return refuse(st);
  } catch (err) {
    return { ok: false, message: `${shown} cannot be read (${(err as NodeJS.ErrnoException).code}).` };
  }
  let handle: FileHandle;
  try {
    handle = await open(abs, constants.O_RDONLY | constants.O_NONBLOCK | constants.O_NOFOLLOW);
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    return { ok: false, message: code === "ELOOP" ? `${shown} changed into a symlink while being opened; try again.` : `${shown} cannot be read (${code}).` };
  }
  try {
    const st = await handle.stat();
    if (!st.isFile()) {
      await handle.close();
      return refuse(st);
    }
    return { ok: true, handle, st };
  } catch (err) {
    await handle.close().catch(() => {});
    return { ok: false, message: `${shown} cannot be read (${(err as NodeJS.ErrnoException).code}).` };
  }
}
