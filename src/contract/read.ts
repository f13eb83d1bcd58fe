import { createHash } from "node:crypto";
import { closeSync, constants, fstatSync, openSync, readSync, realpathSync, type BigIntStats, type Stats } from "node:fs";
import { describeKind } from "../tools/regular-file.js";

/** What identifies a file's version without reading it: a change to any of these means "look again". */
export interface FileIdentity {
  dev: bigint;
  ino: bigint;
  size: bigint;
  mtimeNs: bigint;
  /** Set by the kernel on every change (content, mode, links); unlike mtime it cannot be set back. */
  ctimeNs: bigint;
}

/** One trusted input as pod read it at start. */
export interface TrustedFile {
  /** Absolute path as the operator named it (symlinks not resolved). */
  path: string;
  /** Its real path when it was read (symlinks resolved). */
  real: string;
  /** The bytes pod uses (the system prompt, the schema, …): never read a second time. Empty when not kept. */
  bytes: Buffer;
  identity: FileIdentity;
  /** Hex SHA-256 of the file as read; a kept file's is computed from `bytes` when first read. */
  sha256: string;
}

export type TrustedRead =
  | { ok: true; file: TrustedFile }
  | { ok: false; reason: "missing" | "directory" | "not_regular" | "unreadable" | "too_large"; message: string };

/** Text inputs pod keeps in memory (prompts, schemas, instructions) are refused past this. */
export const MAX_TRUSTED_BYTES = 16 * 1024 * 1024;
const CHUNK = 64 * 1024;

export function identityOf(st: BigIntStats): FileIdentity {
  return { dev: st.dev, ino: st.ino, size: st.size, mtimeNs: st.mtimeNs, ctimeNs: st.ctimeNs };
}

export function sameIdentity(a: FileIdentity, b: FileIdentity): boolean {
  return a.dev === b.dev && a.ino === b.ino && a.size === b.size && a.mtimeNs === b.mtimeNs && a.ctimeNs === b.ctimeNs;
}

/**
 * Reads one trusted input through a descriptor. The path's links are resolved first
 * (the caller checks where they lead, src/contract/boundary.ts), then the real path is
 * opened O_NONBLOCK|O_NOFOLLOW — a FIFO opens at once instead of waiting for a writer,
 * and a component swapped for a link in between is refused — and the descriptor is
 * fstat'ed: anything but a regular file is refused before a byte is read. `keep: false`
 * hashes without keeping the bytes (scripts pod runs but never reads itself).
 */
export async function readTrusted(abs: string, shown: string, opts: { keep?: boolean } = {}): Promise<TrustedRead> {
  const keep = opts.keep ?? true;
  // Synchronous calls: a handful of small files read once at start, where each thread-pool
  // round trip of the promise API cost more than the read itself (every command reads the
  // manifest this way, `pod status` included).
  let real: string;
  try {
    real = realpathSync(abs);
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    if (code === "ENOENT" || code === "ENOTDIR") return { ok: false, reason: "missing", message: `${shown} does not exist` };
    return { ok: false, reason: "unreadable", message: `${shown} cannot be read (${code})` };
  }
  let fd: number;
  try {
    fd = openSync(real, constants.O_RDONLY | constants.O_NONBLOCK | constants.O_NOFOLLOW);
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    if (code === "ELOOP") return { ok: false, reason: "unreadable", message: `${shown} changed into a symlink while pod opened it` };
    if (code === "ENXIO") return { ok: false, reason: "not_regular", message: `${shown} is a socket, not a regular file` };
    return { ok: false, reason: "unreadable", message: `${shown} cannot be read (${code})` };
  }
  try {
    const st = fstatSync(fd, { bigint: true });
    if (!st.isFile()) return { ok: false, reason: st.isDirectory() ? "directory" : "not_regular", message: `${shown} is ${describeKind(st as unknown as Stats)}, not a regular file` };
    if (keep && st.size > BigInt(MAX_TRUSTED_BYTES)) {
      return { ok: false, reason: "too_large", message: `${shown} is ${st.size} bytes, more than the ${MAX_TRUSTED_BYTES} pod reads` };
    }
    // A kept file is hashed when its hash is first asked for (the run's pins do; `pod status`
    // never does, and node:crypto costs it 4 ms to load): the same bytes, the same hash.
    const hash = keep ? undefined : createHash("sha256");
    const chunks: Buffer[] = [];
    for (let pos = 0; ; ) {
      const buf = Buffer.allocUnsafe(CHUNK);
      const bytesRead = readSync(fd, buf, 0, CHUNK, pos);
      if (bytesRead === 0) break;
      const got = buf.subarray(0, bytesRead);
      hash?.update(got);
      if (keep) {
        chunks.push(got);
        if (pos + bytesRead > MAX_TRUSTED_BYTES) return { ok: false, reason: "too_large", message: `${shown} grew past ${MAX_TRUSTED_BYTES} bytes while pod read it` };
      }
      pos += bytesRead;
    }
    const identity = identityOf(st);
    if (hash) return { ok: true, file: { path: abs, real, bytes: Buffer.alloc(0), identity, sha256: hash.digest("hex") } };
    const bytes = Buffer.concat(chunks);
    let sha256: string | undefined;
    return {
      ok: true,
      file: {
        path: abs,
        real,
        bytes,
        identity,
        get sha256() {
          return (sha256 ??= createHash("sha256").update(bytes).digest("hex"));
        },
      },
    };
  } catch (err) {
    return { ok: false, reason: "unreadable", message: `${shown} cannot be read (${(err as NodeJS.ErrnoException).code ?? (err as Error).message})` };
  } finally {
    try {
      closeSync(fd);
    } catch {
      // already closed
    }
  }
}
