import type { Writable } from "node:stream";
import type { Transport } from "@modelcontextprotocol/sdk/shared/transport.js";
import type { JSONRPCMessage } from "@modelcontextprotocol/sdk/types.js";
import { spawnConfined, type ConfinedExit, type ConfinedProcess, type ConfineOptions } from "../../sandbox/index.js";

/** The SDK's stdio framing (one JSON-RPC message per line), handed in by servers.ts, which loads the SDK's bundle. */
export interface StdioFraming {
  ReadBuffer: new () => { append(chunk: Buffer): void; readMessage(): JSONRPCMessage | null; clear(): void };
  serializeMessage(message: JSONRPCMessage): string;
}

/** After stdin is closed, how long a server has to exit by itself before its tree is signalled. */
export const STDIN_GRACE_MS = 150;
/** Then SIGTERM, and SIGKILL this long after: with the drain, well within the 1 s a shutdown may take. */
export const TERM_GRACE_MS = 250;
/** How much of a server's stderr is kept for the message when it fails: its last lines. */
const TAIL_LINES = 8;
const TAIL_CHARS = 2000;

/**
 * An MCP stdio transport over a confined process (src/sandbox/spawnConfined): the SDK's
 * StdioClientTransport spawns the process itself and cannot hand bwrap the descriptors
 * its seccomp filter and data files need, so this one speaks over the pipes of a
 * process pod started. The server's stderr goes to pod's stderr (never stdout: that is
 * the event stream), and its last lines are kept for the message when it fails.
 *
 * Lifecycle: onclose fires when the process has exited (not when a pipe closes); close()
 * ends stdin, gives the server STDIN_GRACE_MS to exit, then ends its whole tree
 * (SIGTERM, SIGKILL after TERM_GRACE_MS) — a server that ignores both (`sh -c "trap ''
 * TERM; …"`) is gone in under a second, and under bwrap nothing it started survives.
 */
export class ConfinedStdioTransport implements Transport {
  onclose?: (() => void) | undefined;
  onerror?: ((error: Error) => void) | undefined;
  onmessage?: ((message: JSONRPCMessage) => void) | undefined;

  private proc: ConfinedProcess | undefined;
  private exit: ConfinedExit | undefined;
  private exited: Promise<ConfinedExit> | undefined;
  private tail = "";
  private readonly buffer: InstanceType<StdioFraming["ReadBuffer"]>;

  constructor(
    /** What it runs and how it is confined. */
    readonly options: Omit<ConfineOptions, "stdin" | "timeoutMs" | "killGraceMs">,
    private readonly framing: StdioFraming,
    private readonly stderr: Writable = process.stderr,
  ) {
    this.buffer = new framing.ReadBuffer();
  }

  /** Starts the process. Throws a PodError (sandbox_unavailable) when the sandbox refuses the policy. */
  async start(): Promise<void> {
    if (this.proc) throw new Error("already started");
    const p = await spawnConfined({ ...this.options, stdin: "pipe", killGraceMs: TERM_GRACE_MS });
    this.proc = p;
    p.stdout.on("data", (chunk: Buffer) => {
      try {
        this.buffer.append(chunk);
        for (let m = this.buffer.readMessage(); m !== null; m = this.buffer.readMessage()) this.onmessage?.(m);
      } catch (err) {
        this.onerror?.(err as Error);
      }
    });
    p.stderr.on("data", (chunk: Buffer) => {
      this.stderr.write(chunk);
      this.tail = (this.tail + chunk.toString("utf8")).slice(-4 * TAIL_CHARS);
    });
    this.exited = p.exited.then((e) => {
      this.exit = e;
      this.buffer.clear();
      this.onclose?.();
      return e;
    });
  }

  send(message: JSONRPCMessage): Promise<void> {
    const stdin = this.proc?.stdin;
    if (!stdin || this.exit || stdin.writableEnded) return Promise.reject(new Error("Not connected"));
    return new Promise((resolve) => (stdin.write(this.framing.serializeMessage(message)) ? resolve() : stdin.once("drain", resolve)));
  }

  /** Whether pod asked it to close (the SDK does after a failed initialize): its end is then pod's doing, not its own. */
  closing = false;

  async close(): Promise<void> {
    const p = this.proc;
    if (!p || !this.exited) return;
    if (!this.exit) this.closing = true;
    if (!this.exit) {
      p.stdin?.end();
      if (!(await within(this.exited, STDIN_GRACE_MS))) p.kill("closed by pod");
    }
    await this.exited;
  }

  /** Kills the whole tree now (a server that did not start in time). */
  kill(reason: string): void {
    this.proc?.kill(reason);
  }

  /**
   * How the process ended, with the last lines of its stderr — for a server that failed
   * at start ("Connection closed" alone says nothing). Waits up to `ms` for it to end;
   * undefined when it is still running.
   */
  async ending(ms = 1000): Promise<{ exit: ConfinedExit; stderrTail: string } | undefined> {
    if (!this.exited || !(await within(this.exited, ms))) return undefined;
    return { exit: this.exit!, stderrTail: lastLines(this.tail) };
  }
}

/** Whether `p` settles within `ms`. */
async function within(p: Promise<unknown>, ms: number): Promise<boolean> {
  let timer: NodeJS.Timeout | undefined;
  const done = await Promise.race([p.then(() => true), new Promise<boolean>((r) => (timer = setTimeout(() => r(false), ms)))]);
  clearTimeout(timer);
  return done;
}

/** The last lines of what a server wrote, without blank lines and stack frames (`    at …`): the message, not the trace. */
function lastLines(text: string): string {
  const lines = text.split("\n").filter((l) => l.trim() !== "" && !/^\s+at /.test(l));
  const kept = lines.slice(-TAIL_LINES).join("\n");
  return kept.length > TAIL_CHARS ? "…" + kept.slice(-TAIL_CHARS) : kept;
}
