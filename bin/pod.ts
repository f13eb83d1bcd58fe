#!/usr/bin/env node
import { buildProgram } from "../src/cli.js";

// Usage errors from commander exit 2 (SPEC: usage or manifest error); everything
// else sets the exit code from the command's result.
let code = 0;
const program = buildProgram((c) => {
  code = c;
});
try {
  await program.parseAsync(process.argv);
} catch (err) {
  const e = err as { code?: string; exitCode?: number };
  if (e.code === "commander.helpDisplayed" || e.code === "commander.version" || e.code === "commander.help") code = 0;
  else if (typeof e.exitCode === "number") {
    // commander already told the person on stderr; a pipeline gets the one `error` line.
    if (!process.stdout.isTTY) {
      const message = (err as Error).message.replace(/^error: /, "");
      process.stdout.write(JSON.stringify({ v: 1, seq: 0, ts: new Date().toISOString(), session_id: null, type: "error", code: "invalid_input", message }) + "\n");
    }
    code = 2;
  }
  else {
    process.stderr.write(`pod: internal error: ${(err as Error).stack ?? err}\n`);
    code = 1;
  }
}
// Exit explicitly: an idle keep-alive socket or timer must not hold a finished CLI open.
process.exit(code);
