import { randomBytes } from "node:crypto";
import { readFileSync } from "node:fs";
import { access, copyFile, mkdir, open, readdir, truncate, type FileHandle } from "node:fs/promises";
import path from "node:path";
import { z } from "zod";
import { PodError } from "../errors.js";
import { appendLine, DurableLines } from "./append-lines.js";
import { syncDir } from "./atomic-file.js";
import { Message } from "../conversation/messages.js";
import { isSessionId } from "./paths.js";
import type { Redactor } from "../redact/redactor.js";

/**
 * A session is one append-only JSONL file, `sessions/<id>.jsonl`. Every line is a
 * record; a completed message is one line written with one write() as soon as it
 * exists, so a killed process loses at most the line being written, and appending a
 * turn never rewrites the file. A compaction is a record too: the full history stays.
 *
 * Durability against power loss is per turn, not per line: `sync()` (fdatasync) makes
 * every line written so far durable, and the run loop calls it once a turn, plus
 * before any tool that can change something runs (docs/runtime.md, "Crash safety").
 */
const SessionHeader = z.object({ kind: z.literal("session"), id: z.string(), created_at: z.string() });
const count = () => z.number().int().nonnegative();
const RecordUsage = z.object({ input_tokens: count(), output_tokens: count(), cache_read_input_tokens: count(), cache_creation_input_tokens: count() });
const MessageRecord = z.object({
  kind: z.literal("message"),
  turn: z.number().int().nonnegative(),
  ts: z.string(),
  message: Message,
  /**
   * On a model's message: the tokens its request used and the model that answered, so the
   * session alone can recount status.json's totals after a crash or a power loss
   * (status.json's per-turn saves are not fsynced). Absent in sessions from older versions.
   */
  usage: RecordUsage.optional(),
  model: z.string().optional(),
});
const CompactionRecord = z.object({
  kind: z.literal("compaction"),
  ts: z.string(),
  /** Messages before this index (in the full history) are replaced by the summary. */
  keep_from: z.number().int().nonnegative(),
  summary: z.string(),
  tokens_before: z.number().int().nonnegative(),
  tokens_after: z.number().int().nonnegative(),
});
const SessionRecord = z.discriminatedUnion("kind", [SessionHeader, MessageRecord, CompactionRecord]);
type SessionRecord = z.infer<typeof SessionRecord>;
export type CompactionInfo = z.infer<typeof CompactionRecord>;

/** A file whose writes can be made durable (SessionStore.syncWith). */
export interface Durable {
  isDurable(): boolean;
  sync(): Promise<void>;
}

export interface StoredMessage {
  message: Message;
  turn: number;
  ts: string;
  usage?: z.infer<typeof RecordUsage> | undefined;
  model?: string | undefined;
}

/** What the request behind a model's message cost, stored with it. */
export interface MessageMeta {
  usage: z.infer<typeof RecordUsage>;
  model: string;
}

export interface SessionInfo {
  id: string;
  created_at: string;
  messages: number;
  compactions: number;
}

export function newSessionId(now = new Date()): string {
  const stamp = now.toISOString().replace(/[-:]/g, "").replace(/\.\d+Z$/, "Z");
  return `${stamp}-${randomBytes(3).toString("hex")}`;
}

/**
 * The file of a session. The id comes from status.json or the command line, and it
 * becomes a path: anything that is not a session id (`../../x`) is refused, never followed.
 */
export function sessionFile(sessionsDir: string, id: string): string {
  if (!isSessionId(id)) {
    throw new PodError("not_found", `"${id.slice(0, 80)}" is not a session id (like 20260101T000000Z-a1b2c3)`, "`pod sessions` lists the stored sessions");
  }
  return path.join(sessionsDir, `${id}.jsonl`);
}

export interface WriteGuard {
  /** Called before every write; throws to stop it (e.g. the pod lock was lost). */
  beforeWrite?: () => void;
  /**
   * The run's Redactor (src/redact/): every message and summary is redacted before it is
   * written and kept, so the session file and every later request built from it are
   * secret-free; a loaded session that holds a secret is redacted as it is read.
   */
  redactor?: Redactor;
}

interface Loaded {
  header: z.infer<typeof SessionHeader>;
  messages: StoredMessage[];
  compaction: CompactionInfo | undefined;
  compactions: number;
  /** Byte length of the intact prefix; anything after it is a torn final line. */
  goodBytes: number;
  totalBytes: number;
}

async function loadFile(file: string, redactor?: Redactor): Promise<Loaded> {
  let buf: Buffer;
  try {
    // One synchronous read: readFile of a 13 MB session is 26 thread-pool round trips
    // (measurably slower), and nothing else needs the event loop while a session loads.
    buf = readFileSync(file);
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    throw new PodError(
      // Missing is damaged state (exit 1); unreadable is the environment's to fix (exit 2, like an unwritable runtime dir).
      code === "ENOENT" ? "internal" : "invalid_input",
      code === "ENOENT" ? `session file ${file} is missing` : `cannot read session file ${file}: ${code}`,
      code === "ENOENT" ? "start a fresh session with `pod new` (other sessions are kept)" : "check the runtime directory's permissions",
    );
  }
  const messages: StoredMessage[] = [];
  let header: Loaded["header"] | undefined;
  let compaction: CompactionInfo | undefined;
  let compactions = 0;
  let lineNo = 0;
  let goodBytes = 0;
  // Walk the bytes, not a decoded string: offsets stay byte offsets and the load stays linear.
  for (let pos = 0; pos < buf.length; ) {
    const nl = buf.indexOf(10, pos);
    lineNo++;
    if (nl === -1) break; // torn last line: it never finished, so it was never a completed turn
    const line = buf.toString("utf8", pos, nl);
    pos = nl + 1;
    if (line.trim() !== "") {
      let record: SessionRecord;
      try {
        record = SessionRecord.parse(JSON.parse(line));
      } catch (err) {
        throw new PodError(
          "internal",
          `session file ${file} is damaged at line ${lineNo}: ${err instanceof SyntaxError ? "not JSON" : "unexpected record"}`,
          `keep a copy (cp ${file} ${file}.bak), then remove or fix that line, or start a fresh session with \`pod new\``,
        );
      }
      if (record.kind === "session") header = record;
      else if (record.kind === "message") messages.push({ message: record.message, turn: record.turn, ts: record.ts, usage: record.usage, model: record.model });
      else {
        compaction = record;
        compactions++;
      }
    }
    goodBytes = pos;
  }
  if (!header) {
    throw new PodError("internal", `session file ${file} has no header line`, "start a fresh session with `pod new` (other sessions are kept)");
  }
  // A session written before redaction (or before a variable was named a secret): the copy in memory,
  // which every request is built from, is redacted. One byte search when it holds none.
  if (redactor?.foundIn(buf)) {
    for (const m of messages) m.message = redactor.value(m.message);
    if (compaction) compaction = redactor.value(compaction);
  }
  return { header, messages, compaction, compactions, goodBytes, totalBytes: buf.length };
}

export class SessionStore {
  private constructor(
    readonly file: string,
    readonly id: string,
    private readonly stored: StoredMessage[],
    private lastCompaction: CompactionInfo | undefined,
    private handle: FileHandle | undefined,
    private readonly guard: WriteGuard = {},
  ) {
    this.durable = new DurableLines(file, () => this.handle);
  }

  /** Lines written and known durable, and the batched fdatasyncs (append-lines.ts). */
  private readonly durable: DurableLines;

  /** A new empty session file. */
  static async create(sessionsDir: string, id = newSessionId(), guard: WriteGuard = {}): Promise<SessionStore> {
    await mkdir(sessionsDir, { recursive: true });
    const file = sessionFile(sessionsDir, id);
    guard.beforeWrite?.();
    // "ax": O_APPEND (every write lands at the end, whoever else writes the file) + O_EXCL.
    const handle = await open(file, "ax");
    await handle.writeFile(JSON.stringify({ kind: "session", id, created_at: new Date().toISOString() }) + "\n", "utf8");
    await handle.sync();
    await syncDir(sessionsDir);
    return new SessionStore(file, id, [], undefined, handle, guard);
  }

  /**
   * Opens a session for appending (the caller holds the pod lock). A torn final
   * line left by a crash is copied to `<file>.torn-<time>` and cut off, so the
   * next append starts on a clean line.
   */
  static async openForAppend(sessionsDir: string, id: string, guard: WriteGuard = {}): Promise<SessionStore> {
    const file = sessionFile(sessionsDir, id);
    const loaded = await loadFile(file, guard.redactor);
    if (loaded.goodBytes < loaded.totalBytes) {
      guard.beforeWrite?.();
      await copyFile(file, `${file}.torn-${Date.now()}`);
      await truncate(file, loaded.goodBytes);
    }
    // "a" is O_APPEND: no write of this process can land over lines another one wrote.
    const handle = await open(file, "a");
    return new SessionStore(file, id, loaded.messages, loaded.compaction, handle, guard);
  }

  /** Opens a session to read only; safe while another process appends (a torn last line is ignored). */
  static async openReadOnly(sessionsDir: string, id: string): Promise<SessionStore> {
    const file = sessionFile(sessionsDir, id);
    const loaded = await loadFile(file);
    return new SessionStore(file, id, loaded.messages, loaded.compaction, undefined);
  }

  static async list(sessionsDir: string): Promise<SessionInfo[]> {
    let names: string[];
    try {
      // Only files named like sessions: the id is taken from the name, which is a path later.
      names = (await readdir(sessionsDir)).filter((n) => n.endsWith(".jsonl") && isSessionId(n.slice(0, -".jsonl".length)));
    } catch {
      return [];
    }
    const infos: SessionInfo[] = [];
    for (const name of names.sort()) {
      try {
        const l = await loadFile(path.join(sessionsDir, name));
        infos.push({ id: name.slice(0, -".jsonl".length), created_at: l.header.created_at, messages: l.messages.length, compactions: l.compactions });
      } catch {
        infos.push({ id: name.replace(/\.jsonl$/, ""), created_at: "", messages: -1, compactions: 0 });
      }
    }
    return infos;
  }

  /** Every message ever stored in this session, compacted or not. */
  allMessages(): readonly StoredMessage[] {
    return this.stored;
  }

  /** The history the model sees: the last compaction's summary, then the messages it kept. */
  messages(): Message[] {
    const c = this.lastCompaction;
    const kept = this.stored.slice(c?.keep_from ?? 0).map((s) => s.message);
    if (!c) return kept;
    return [{ role: "user", content: [{ type: "text", text: c.summary }] }, ...kept];
  }

  compaction(): CompactionInfo | undefined {
    return this.lastCompaction;
  }

  async append(message: Message, turn: number, meta?: MessageMeta): Promise<void> {
    if (this.guard.redactor) message = this.guard.redactor.value(message);
    const record = { kind: "message", turn, ts: new Date().toISOString(), message, ...meta } as const;
    await this.writeLine(record);
    this.stored.push({ message, turn, ts: record.ts, usage: meta?.usage, model: meta?.model });
  }

  async appendCompaction(info: Omit<CompactionInfo, "kind" | "ts">): Promise<void> {
    if (this.guard.redactor) info = { ...info, summary: this.guard.redactor.text(info.summary) };
    const record: CompactionInfo = { kind: "compaction", ts: new Date().toISOString(), ...info };
    await this.writeLine(record);
    this.lastCompaction = record;
  }

  /**
   * Written, not yet durable: the line is in the file (a reader or a killed process's
   * successor sees it) but may be lost with the machine's power until `sync()`.
   */
  private async writeLine(record: object): Promise<void> {
    if (!this.handle) throw new Error("session store opened read-only");
    if (this.durable.failure) throw this.durable.failure;
    this.guard.beforeWrite?.();
    appendLine(this.handle, this.file, record);
    this.durable.wrote();
  }

  /** Another append-only file made durable with this one (a run's recording, src/runs/): see syncWith. */
  private companion: Durable | undefined;

  /**
   * From now on every sync() of the session also starts a sync of `other`, in parallel: the
   * run's recording rides on the session's sync points (once a turn, before a tool that
   * changes something, before run_start), never a sync of its own. The session's sync does
   * not wait for it: what is announced on stdout is the session's state, and a recording
   * that trails the session by a turn after a power loss replays a turn less. (A kill -9
   * needs no sync: every line is written before its event.) The owner of `other` makes it
   * durable at the end (Recording.end) and hears of a failed sync there.
   */
  syncWith(other: Durable | undefined): void {
    this.companion = other;
  }

  /** Whether every line written so far is durable (no sync needed). */
  isDurable(): boolean {
    return this.durable.isDurable();
  }

  /**
   * Makes every line written before this call durable (one fdatasync; O_APPEND growth is
   * covered, as fdatasync flushes the size). Calls made while one runs share the next one;
   * a call with nothing new to flush costs nothing. Safe to start and await later: a
   * failure is kept and every later sync() and append rejects with it.
   */
  sync(): Promise<void> {
    const own = this.durable.sync();
    const other = this.companion;
    // After the session's own: two fdatasyncs at once on one filesystem wait on each other's journal commit.
    if (other && !other.isDurable()) own.then(() => other.sync()).catch(() => {});
    return own;
  }

  async close(): Promise<void> {
    // Whatever was written becomes durable before the file is let go (a no-op after the run's last sync).
    if (this.handle) await this.sync().catch(() => {});
    await this.handle?.close();
    this.handle = undefined;
  }
}
