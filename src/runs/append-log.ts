import { writeSync } from "node:fs";
import { open, type FileHandle } from "node:fs/promises";
import { writeError } from "../store/atomic-file.js";
import type { PodError } from "../errors.js";

/**
 * An append-only JSONL file with the session's rule (docs/runtime.md, "Crash safety"): each
 * line is one write() on an O_APPEND descriptor, done before whatever announces it, so a
 * kill -9 loses at most the line being written; `sync()` (one fdatasync) makes every line
 * written so far durable and is called at the session's own sync points, never per line.
 */
export class AppendLog {
  private written = 0;
  private synced = 0;
  private tail: Promise<void> = Promise.resolve();
  private failure: PodError | undefined;

  private constructor(
    readonly file: string,
    private handle: FileHandle | undefined,
    private readonly beforeWrite?: () => void,
  ) {}

  /** A new file ("ax": O_APPEND and O_EXCL: a run's log is never shared). */
  static async create(file: string, beforeWrite?: () => void): Promise<AppendLog> {
    try {
      return new AppendLog(file, await open(file, "ax"), beforeWrite);
    } catch (err) {
      throw writeError(file, err);
    }
  }

  write(record: object): void {
    if (!this.handle) throw new Error(`${this.file} is closed`);
    if (this.failure) throw this.failure;
    this.beforeWrite?.();
    try {
      const bytes = Buffer.from(JSON.stringify(record) + "\n", "utf8");
      for (let done = 0; done < bytes.length; ) done += writeSync(this.handle.fd, bytes, done);
    } catch (err) {
      throw writeError(this.file, err);
    }
    this.written++;
  }

  isDurable(): boolean {
    return this.synced >= this.written;
  }

  /** Every line written before this call, durable. Calls made while one runs share the next; a failure is final. */
  sync(): Promise<void> {
    if (this.failure) return Promise.reject(this.failure);
    if (this.synced >= this.written) return Promise.resolve();
    const next = this.tail.then(async () => {
      const upTo = this.written;
      if (this.synced >= upTo) return;
      if (this.failure) throw this.failure;
      if (!this.handle) return;
      try {
        await this.handle.datasync();
      } catch (err) {
        this.failure = writeError(this.file, err);
        throw this.failure;
      }
      this.synced = Math.max(this.synced, upTo);
    });
    this.tail = next.catch(() => {});
    return next;
  }

  async close(): Promise<void> {
    await this.sync().catch(() => {});
    await this.handle?.close().catch(() => {});
    this.handle = undefined;
  }
}
