import { createHash } from "node:crypto";
import type { Stats } from "node:fs";
import { stat } from "node:fs/promises";
import { openRegular } from "./regular-file.js";
import type { ScopedFs } from "./scoped-fs.js";
import type { ReadProofs } from "./types.js";

/**
 * What the model had read of a file, carried by a pending call across the approval gate:
 * the file's identity when read and the SHA-256 of its content (the same fields as
 * store/status.ts's ReadProof, which keeps it in status.json).
 */
export interface ReadProof {
  /** Relative to the scope root. */
  path: string;
  dev: number;
  ino: number;
  size: number;
  mtime_ms: number;
  sha256: string;
}

interface Seen {
  mtimeMs: number;
  size: number;
  dev: number;
  ino: number;
  /** Of the content as read, when the Read covered the whole file; else computed when a proof is taken. */
  sha256?: string | undefined;
}

/** Larger files get no proof (hashing them at a pause would take too long): an approved change to one must be read again. */
export const MAX_PROOF_BYTES = 64 * 1024 * 1024;

/**
 * What the agent read in this process (a fresh tracker per process, so after
 * `pod resume` it must read again). Edit and Write of an existing file require a
 * read whose mtime and size still match the file on disk: the model never
 * overwrites what it has not seen, or what changed under it.
 *
 * The one thing that crosses processes is a read proof (issue 23): when a call pauses
 * for approval, the proof of the file it would change goes with the pending call, and the
 * resuming process adopts it only if the file still has exactly that content. Anything
 * else must be read again in the new process.
 */
export class Tracker {
  private readonly seen = new Map<string, Seen>();
  /** Files whose proof from a paused process did not match any more: the reason a change is refused. */
  private readonly changedWhilePaused = new Map<string, string>();
  private readonly reads = new Set<string>();
  private readonly writes = new Set<string>();

  /**
   * A Read of `abs`. `st` is the open file's fstat, taken before it was read; `sha256` the
   * hash of its whole content when the Read went through to its end.
   */
  async recordRead(abs: string, rel: string, st?: Stats, sha256?: string): Promise<void> {
    this.reads.add(rel);
    this.changedWhilePaused.delete(abs);
    if (st) this.seen.set(abs, { mtimeMs: st.mtimeMs, size: st.size, dev: st.dev, ino: st.ino, sha256 });
    else await this.remember(abs);
  }

  async recordWrite(abs: string, rel: string): Promise<void> {
    this.writes.add(rel);
    this.changedWhilePaused.delete(abs);
    await this.remember(abs);
  }

  /** undefined when the file may be changed; otherwise the reason for the model. */
  async checkFresh(abs: string, rel: string): Promise<string | undefined> {
    const paused = this.changedWhilePaused.get(abs);
    if (paused) return paused;
    const seen = this.seen.get(abs);
    if (!seen) return `${rel} has not been read in this session yet. Read it first, then edit it.`;
    try {
      const st = await stat(abs);
      if (st.mtimeMs !== seen.mtimeMs || st.size !== seen.size) {
        return `${rel} changed on disk since it was read. Read it again before editing it.`;
      }
    } catch {
      return `${rel} can no longer be checked. Read it again.`;
    }
    return undefined;
  }

  /** For a Write of a file that does not exist (any more): refused if it existed, with other content, when the pod paused. */
  checkCreate(abs: string): string | undefined {
    return this.changedWhilePaused.get(abs);
  }

  /**
   * The proof of what was read of `abs`, if it was read (or written) in this process and is
   * unchanged since by mtime and size, as checkFresh asks. The hash is the Read's own when
   * it saw the whole file, else the file's now (it has not changed since, by the same test).
   */
  async proof(abs: string, rel: string): Promise<ReadProof | undefined> {
    const seen = this.seen.get(abs);
    if (!seen || this.changedWhilePaused.has(abs)) return undefined;
    let sha256 = seen.sha256;
    let st: Stats;
    if (sha256 === undefined) {
      const now = await hashFile(abs, rel);
      if (!now) return undefined;
      ({ st, sha256 } = now);
    } else {
      try {
        st = await stat(abs);
      } catch {
        return undefined;
      }
    }
    if (st.mtimeMs !== seen.mtimeMs || st.size !== seen.size) return undefined;
    return { path: rel, dev: st.dev, ino: st.ino, size: st.size, mtime_ms: st.mtimeMs, sha256 };
  }

  /**
   * A proof taken by the process that paused: the file counts as read here if its content
   * is still the one proven (a touch or a rewrite with the same bytes changes nothing the
   * model saw). Otherwise a change to it is refused with the reason, until it is read again.
   */
  async adopt(abs: string, rel: string, proof: ReadProof): Promise<void> {
    const now = await hashFile(abs, rel);
    if (now && now.st.size === proof.size && now.sha256 === proof.sha256) {
      this.seen.set(abs, { mtimeMs: now.st.mtimeMs, size: now.st.size, dev: now.st.dev, ino: now.st.ino, sha256: now.sha256 });
      this.reads.add(rel);
      this.changedWhilePaused.delete(abs);
      return;
    }
    const what = now ? "its content is no longer what you read" : "it no longer exists as the file you read";
    this.changedWhilePaused.set(
      abs,
      `${rel} was changed while the pod was paused for approval (by a person or another job): ${what}, so this change was not applied. Read ${rel} again, then make the change again if it is still needed.`,
    );
  }

  /** Root-relative paths read and written in this process, for compaction summaries. */
  touched(): { read: string[]; written: string[] } {
    return { read: [...this.reads].sort(), written: [...this.writes].sort() };
  }

  private async remember(abs: string): Promise<void> {
    try {
      const st = await stat(abs);
      this.seen.set(abs, { mtimeMs: st.mtimeMs, size: st.size, dev: st.dev, ino: st.ino });
    } catch {
      this.seen.delete(abs);
    }
  }
}

/** The SHA-256 of a regular file and its fstat (taken before reading); undefined if it is not one or too large. */
async function hashFile(abs: string, rel: string): Promise<{ st: Stats; sha256: string } | undefined> {
  const opened = await openRegular(abs, rel);
  if (!opened.ok) return undefined;
  try {
    if (opened.st.size > MAX_PROOF_BYTES) return undefined;
    const hash = createHash("sha256");
    const buf = Buffer.allocUnsafe(Math.min(256 * 1024, Math.max(1, opened.st.size)));
    for (let pos = 0; ; ) {
      const { bytesRead } = await opened.handle.read(buf, 0, buf.length, pos);
      if (bytesRead === 0) break;
      hash.update(buf.subarray(0, bytesRead));
      pos += bytesRead;
      if (pos > MAX_PROOF_BYTES) return undefined;
    }
    return { st: opened.st, sha256: hash.digest("hex") };
  } catch {
    return undefined;
  } finally {
    await opened.handle.close().catch(() => {});
  }
}

/**
 * The read proofs of Edit and Write: the file named by the call's `path`, resolved through
 * the scope like the call itself (a proof never names a file the call could not touch).
 */
export function readProofs(fs: ScopedFs, tracker: Tracker): ReadProofs<{ path: string }> {
  return {
    async take(input) {
      const r = await fs.resolve(input.path, "write");
      if (!r.ok || !r.exists) return undefined;
      return tracker.proof(r.abs, r.rel);
    },
    async adopt(proof) {
      const r = await fs.resolve(proof.path, "write");
      if (!r.ok) return;
      await tracker.adopt(r.abs, r.rel, proof);
    },
  };
}
