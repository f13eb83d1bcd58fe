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
    process.exit(0);
  }
  if (fast?.kind === "status") process.exit(await runStatus(fast.opts));
  const { runCli } = await import("./cli.js");
  process.exit(await runCli(argv));
}
