import { buildSystemPrompt } from "../prompt/system-prompt.js";
import { withContext, type GlobalOptions } from "./context.js";

/**
 * `pod prompt`: prints the system prompt `pod run` would send now, exactly (plus one
 * final newline), built by the same function the run uses. Reads no runtime state
 * and takes no lock. The instruction files it included are listed on stderr.
 */
export async function promptCommand(opts: GlobalOptions): Promise<number> {
  return withContext(opts, async (ctx) => {
    const prompt = await buildSystemPrompt({ manifest: ctx.manifest, runtimeDir: ctx.runtimeDir, redactor: ctx.sink.redactor });
    process.stdout.write(prompt.text + "\n");
    if (prompt.instructions.length > 0) process.stderr.write(`pod prompt: instruction files included: ${prompt.instructions.join(", ")}\n`);
    for (const w of prompt.warnings) process.stderr.write(`pod prompt: ${w}\n`);
    return 0;
  });
}
