import { createHash } from "node:crypto";
import { mkdir, open, type FileHandle } from "node:fs/promises";
import path from "node:path";
import { describeProviderError } from "../provider/errors.js";
import type { ExchangeTap, TapEndpoint } from "../provider/tap.js";
import type { SseEvent } from "../provider/stream.js";
import type { Redactor } from "../redact/redactor.js";
import { syncDir, writeError, writeFileAtomic } from "../store/atomic-file.js";
import type { Message } from "../conversation/messages.js";
import { VERSION } from "../version.js";
import { AppendLog } from "./append-log.js";
import { HISTORY_FILE, newRunId, RECORDING_VERSION, RECORDS_FILE, RUN_FILE, runDir, runsDir, type RunEnd, type RunMeta, type ToolRecord } from "./format.js";
import { pruneRuns } from "./prune.js";
import { redactStream } from "./redact-stream.js";
import { DeltaEncoder } from "./request-delta.js";

/** What the invocation knows of the run when it begins (run.json without the fields the recorder fills in). */
export type RunStart = Omit<RunMeta, "v" | "run_id" | "started_at" | "pod_version" | "start" | "end" | "ended_at"> & {
  start: Omit<RunMeta["start"], "history_sha256">;
};

export interface RecordingOptions {
  podDir: string;
  /** [pod] keep_runs: recordings kept, this one included; 0 records nothing. */
  keepRuns: number;
  /** The run's Redactor: nothing secret is written, whatever carried it. */
  redactor: Redactor;
  run: RunStart;
  /** The history the model sees as the run begins (store.messages()). */
  history: readonly Message[];
  now?: Date;
}

/**
 * One run's recording as it happens (format.ts has the files). Every line is written before
 * the event that announces what it records: a request before it is sent, a response once its
 * stream ends (before the message is stored and its `usage` line printed), a tool result
 * before its `tool_result` line. Durability rides on the session's per-turn fdatasync: the
 * session store syncs this alongside itself (SessionStore.syncWith), never a sync per line.
 */
export class Recording implements ExchangeTap {
  private readonly encoder = new DeltaEncoder();
  private n = 0;
  /** history.jsonl and run.json are made durable by the first sync, with the first lines. */
  private startSynced = false;

  private constructor(
    readonly id: string,
    readonly dir: string,
    private meta: RunMeta,
    private readonly log: AppendLog,
    private history: FileHandle | undefined,
    private readonly redactor: Redactor,
  ) {}

  /** Prunes the oldest recordings to keep_runs − 1, then starts this one. undefined when keep_runs is 0. */
  static async start(opts: RecordingOptions): Promise<Recording | undefined> {
    await pruneRuns(runsDir(opts.podDir), Math.max(0, opts.keepRuns - 1));
    if (opts.keepRuns <= 0) return undefined;
    const now = opts.now ?? new Date();
    const id = newRunId(now);
    const dir = runDir(opts.podDir, id);
    try {
      await mkdir(dir, { recursive: true });
    } catch (err) {
      throw writeError(dir, err);
    }
    const lines = opts.history.map((m) => JSON.stringify(opts.redactor.value(m)) + "\n").join("");
    const historyFile = path.join(dir, HISTORY_FILE);
    let history: FileHandle;
    try {
      history = await open(historyFile, "wx");
      await history.writeFile(lines, "utf8");
    } catch (err) {
      throw writeError(historyFile, err);
    }
    const meta: RunMeta = opts.redactor.value({
      v: RECORDING_VERSION,
      run_id: id,
      ...opts.run,
      started_at: now.toISOString(),
      pod_version: VERSION,
      start: { ...opts.run.start, history_sha256: createHash("sha256").update(lines).digest("hex") },
    });
    await writeFileAtomic(path.join(dir, RUN_FILE), JSON.stringify(meta, null, 2) + "\n", { durable: false });
    const log = await AppendLog.create(path.join(dir, RECORDS_FILE));
    return new Recording(id, dir, meta, log, history, opts.redactor);
  }

  request(endpoint: TapEndpoint, body: Record<string, unknown>): number {
    const n = ++this.n;
    this.log.write({ kind: "request", n, endpoint, ...this.redactor.value(this.encoder.encode(endpoint, body)) });
    return n;
  }

  streamed(n: number, events: SseEvent[]): void {
    this.log.write({ kind: "response", n, events: redactStream(this.redactor, events) });
  }

  json(n: number, body: unknown): void {
    this.log.write({ kind: "response_json", n, body: this.redactor.value(body) });
  }

  failed(n: number, error: unknown, events: SseEvent[]): void {
    const why = error instanceof Error && error.name === "AbortError" ? "cancelled" : describeProviderError(error);
    this.log.write({ kind: "failed", n, error: this.redactor.text(why), events: this.redactor.value(events) });
  }

  toolResult(r: Omit<ToolRecord, "kind">): void {
    this.log.write({ kind: "tool_result", ...this.redactor.value(r) });
  }

  isDurable(): boolean {
    return this.startSynced && this.log.isDurable();
  }

  sync(): Promise<void> {
    if (this.startSynced) return this.log.sync();
    this.startSynced = true;
    return Promise.all([this.log.sync(), this.syncStart()]).then(() => {});
  }

  /** The run_end body (and what only a report needs: `extra`), written (durably) into run.json before run_end is printed. */
  async end(body: RunEnd, now = new Date(), extra: Pick<RunMeta, "diffstat" | "error"> = {}): Promise<void> {
    const more = Object.fromEntries(Object.entries(extra).filter(([, v]) => v !== undefined));
    this.meta = { ...this.meta, ended_at: now.toISOString(), end: this.redactor.value(body), ...this.redactor.value(more) };
    await this.log.close();
    await this.closeHistory();
    await writeFileAtomic(path.join(this.dir, RUN_FILE), JSON.stringify(this.meta, null, 2) + "\n");
  }

  /** Without an end (the run could not finish its own bookkeeping): what was written stays. */
  async close(): Promise<void> {
    await this.log.close();
    await this.closeHistory();
  }

  private async syncStart(): Promise<void> {
    try {
      await this.history?.sync();
      const run = await open(path.join(this.dir, RUN_FILE), "r");
      try {
        await run.sync();
      } finally {
        await run.close();
      }
    } catch (err) {
      throw writeError(this.dir, err);
    }
    await syncDir(this.dir);
    await syncDir(path.dirname(this.dir));
  }

  private async closeHistory(): Promise<void> {
    const h = this.history;
    this.history = undefined;
    if (!h) return;
    if (!this.startSynced) await h.sync().catch(() => {});
    await h.close().catch(() => {});
  }
}
