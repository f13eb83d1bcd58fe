import { stat } from "node:fs/promises";

interface Seen {
  mtimeMs: number;
  size: number;
}

/**
 * What the agent read in this process (a fresh tracker per process, so after
 * `pod resume` it must read again). Edit and Write of an existing file require a
 * read whose mtime and size still match the file on disk: the model never
 * overwrites what it has not seen, or what changed under it.
 */
export class Tracker {
  private readonly seen = new Map<string, Seen>();
  private readonly reads = new Set<string>();
  private readonly writes = new Set<string>();

  async recordRead(abs: string, rel: string): Promise<void> {
    this.reads.add(rel);
    await this.remember(abs);
  }

  async recordWrite(abs: string, rel: string): Promise<void> {
    this.writes.add(rel);
    await this.remember(abs);
  }

  /** undefined when the file may be changed; otherwise the reason for the model. */
  async checkFresh(abs: string, rel: string): Promise<string | undefined> {
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

  /** Root-relative paths read and written in this process, for compaction summaries. */
  touched(): { read: string[]; written: string[] } {
    return { read: [...this.reads].sort(), written: [...this.writes].sort() };
  }

  private async remember(abs: string): Promise<void> {
    try {
      const st = await stat(abs);
      this.seen.set(abs, { mtimeMs: st.mtimeMs, size: st.size });
    } catch {
      this.seen.delete(abs);
    }
  }
}
