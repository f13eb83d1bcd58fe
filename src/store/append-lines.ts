import { writeSync } from "node:fs";
import type { FileHandle } from "node:fs/promises";
import type { PodError } from "../errors.js";
import { writeError } from "./atomic-file.js";

/**
 * The two halves of the session's crash-safety rule (docs/runtime.md, "Durability"),
 * shared by every append-only JSONL file pod keeps (the session, a run's recording):
 * a line is one write() on an O_APPEND descriptor, done before whatever announces it,
 * so a kill -9 loses at most the line being written; and fdatasyncs are batched, never
 * one per line.
 */

/**
 * One synchronous write(): a line lands in the page cache in microseconds, where the
 * async writeFile spent ~0.3 ms a line on thread-pool round trips (bench: per-turn
 * overhead). The loop covers partial writes; O_APPEND puts every byte at the end.
 */
export function appendLine(handle: FileHandle, file: string, record: object): void {
  try {
    const bytes = Buffer.from(JSON.stringify(record) + "\n", "utf8");
    for (let done = 0; done < bytes.length; ) done += writeSync(handle.fd, bytes, done);
  } catch (err) {
    throw writeError(file, err);
  }
}

/**
 * Lines written and lines known durable of one file, and its fdatasyncs: calls made
 * while one runs share the next one; a call with nothing new to flush costs nothing. A
 * failed fdatasync is final (the kernel may have dropped the dirty pages, so a later
 * "success" proves nothing): it is kept, and every later sync() rejects with it.
 */
export class DurableLines {
  private written = 0;
  private synced = 0;
  /** The last sync started; later syncs queue behind it. Never rejects (failures are kept). */
  private tail: Promise<void> = Promise.resolve();
  private failed: PodError | undefined;

  constructor(
    private readonly file: string,
    private readonly handle: () => FileHandle | undefined,
  ) {}

  /** A sync that failed: the file takes no more lines. */
  get failure(): PodError | undefined {
    return this.failed;
  }

  /** Counts a line appendLine() wrote. */
  wrote(): void {
    this.written++;
  }

  isDurable(): boolean {
    return this.synced >= this.written;
  }

  /** Every line written before this call, durable. */
  sync(): Promise<void> {
    if (this.failed) return Promise.reject(this.failed);
    if (this.synced >= this.written) return Promise.resolve();
    const next = this.tail.then(async () => {
      const upTo = this.written;
      if (this.synced >= upTo) return;
      if (this.failed) throw this.failed;
      const handle = this.handle();
      if (!handle) throw new Error(`${this.file} was closed before its lines were synced`);
      try {
        await handle.datasync();
      } catch (err) {
        this.failed = writeError(this.file, err);
        throw this.failed;
      }
      this.synced = Math.max(this.synced, upTo);
    });
    this.tail = next.catch(() => {});
    return next;
  }
}
