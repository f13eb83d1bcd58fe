import { open, type FileHandle } from "node:fs/promises";
import { writeError } from "../store/atomic-file.js";
import { appendLine, DurableLines } from "../store/append-lines.js";

/**
 * An append-only JSONL file with the session's rule (docs/runtime.md, "Crash safety"): each
 * line is one write() on an O_APPEND descriptor, done before whatever announces it, so a
 * kill -9 loses at most the line being written; `sync()` (one fdatasync) makes every line
 * written so far durable and is called at the session's own sync points, never per line.
 */
export class AppendLog {
  private readonly durable: DurableLines;

  private constructor(
    readonly file: string,
    private handle: FileHandle | undefined,
    private readonly beforeWrite?: () => void,
  ) {
    this.durable = new DurableLines(file, () => this.handle);
  }

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
    if (this.durable.failure) throw this.durable.failure;
    this.beforeWrite?.();
    appendLine(this.handle, this.file, record);
    this.durable.wrote();
  }

  isDurable(): boolean {
    return this.durable.isDurable();
  }

  /** Every line written before this call, durable. Calls made while one runs share the next; a failure is final. */
  sync(): Promise<void> {
    return this.durable.sync();
  }

  async close(): Promise<void> {
    await this.sync().catch(() => {});
    await this.handle?.close().catch(() => {});
    this.handle = undefined;
  }
}
