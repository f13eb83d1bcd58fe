import { fastPath, runStatus } from "./fast-path.js";
import { VERSION } from "./version.js";

/**
 * The process: answer the hottest invocations without loading commander (see
 * fast-path.ts), otherwise load the command line. Every path ends in an explicit
 * exit: an idle keep-alive socket or timer must not hold a finished CLI open.
 */
export async function main(argv: readonly string[]): Promise<never> {
  const fast = fastPath(argv.slice(2));
  if (fast?.kind === "version") {
    process.stdout.write(`${VERSION}\n`);
    return exitWhenWritten(0);
  }
  if (fast?.kind === "status") return exitWhenWritten(await runStatus(fast.opts));
  const { runCli } = await import("./cli.js");
  return exitWhenWritten(await runCli(argv));
}

/**
 * process.exit() drops whatever a pipe has not taken yet: Node writes pipes
 * asynchronously, so a slow reader (`pod run | jq` on a busy runner) lost every line
 * past the pipe's 64 KiB. pod exits once stdout and stderr hold nothing unwritten —
 * or once the reader has gone away (EPIPE closes the stream: `pod run | head -1`).
 */
async function exitWhenWritten(code: number): Promise<never> {
  // Lines batched for this turn of the event loop (events/sink.ts) are handed over first.
  await new Promise((resolve) => setImmediate(resolve));
  await Promise.all([drained(process.stdout), drained(process.stderr)]);
  process.exit(code);
}

function drained(stream: NodeJS.WriteStream): Promise<void> {
  if (stream.writableLength === 0 || stream.destroyed) return Promise.resolve();
  return new Promise((resolve) => {
    const done = () => resolve();
    stream.once("drain", done);
    stream.once("close", done);
    stream.once("error", done);
  });
}
