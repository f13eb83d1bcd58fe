import { PodError } from "../errors.js";
import { invokeRun } from "../runtime/agent.js";
import { applyRunOverrides, resolveRunOptions, type RunFlags } from "../runtime/run-options.js";
import { buildSystemPrompt } from "../prompt/system-prompt.js";
import { loadContext, withContext, type GlobalOptions } from "./context.js";

export interface RunCommandOptions extends GlobalOptions, RunFlags {
  printSystemPrompt?: boolean;
}

/** Big enough for a long task description with logs pasted in; past it, a file tool is the better road. */
export const MAX_PROMPT_BYTES = 1024 * 1024;

/**
 * `pod run "<prompt>"` (`-` reads the prompt from stdin); `--print-system-prompt` only prints the system prompt.
 * `load`: test/helpers/in-process.ts runs the command in the test's process with a sink of its own.
 */
export async function runCommand(promptArg: string | undefined, opts: RunCommandOptions, load = loadContext): Promise<number> {
  return withContext(opts, async (loaded) => {
    const ctx = { ...loaded, manifest: applyRunOverrides(loaded.manifest, opts) };
    if (opts.printSystemPrompt) {
      // The same function the run calls, so this is exactly what the run would send.
      process.stdout.write((await buildSystemPrompt({ manifest: ctx.manifest, runtimeDir: ctx.runtimeDir, redactor: ctx.sink.redactor, review: opts.review === true })).text + "\n");
      return 0;
    }
    if (promptArg === undefined) {
      throw new PodError("invalid_input", "missing the prompt", 'give the task as an argument (pod run "fix the failing test") or on stdin with `pod run -`');
    }
    const prompt = promptArg === "-" ? await readStdinPrompt() : promptArg;
    checkPrompt(prompt);
    const run = await resolveRunOptions(opts, ctx.manifest);
    return invokeRun({ mode: "run", prompt }, { ...ctx, model: opts.model, maxTurns: opts.maxTurns, run });
  }, load);
}

export function checkPrompt(prompt: string): void {
  if (prompt.trim() === "") {
    throw new PodError("invalid_input", "the prompt is empty", 'give the task as an argument (pod run "fix the failing test") or on stdin with `pod run -`');
  }
  if (Buffer.byteLength(prompt) > MAX_PROMPT_BYTES) {
    throw new PodError(
      "invalid_input",
      `the prompt is ${Buffer.byteLength(prompt)} bytes, more than the ${MAX_PROMPT_BYTES}-byte limit`,
      "put the large text in a file inside the scope and ask the agent to read it",
    );
  }
}

async function readStdinPrompt(): Promise<string> {
  if (process.stdin.isTTY) {
    throw new PodError("invalid_input", "prompt `-` reads stdin, but stdin is a terminal", 'pipe the prompt in (echo "fix it" | pod run -) or pass it as an argument');
  }
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of process.stdin) {
    chunks.push(chunk as Buffer);
    size += (chunk as Buffer).length;
    if (size > MAX_PROMPT_BYTES) break;
  }
  const buf = Buffer.concat(chunks);
  const text = new TextDecoder("utf-8", { fatal: false }).decode(buf);
  if (text.includes("\uFFFD") && !isValidUtf8(buf)) {
    throw new PodError("invalid_input", "the prompt on stdin is not valid UTF-8", "convert it first, e.g. with `iconv -f latin1 -t utf-8`");
  }
  if (size > MAX_PROMPT_BYTES) {
    throw new PodError("invalid_input", `the prompt on stdin is more than ${MAX_PROMPT_BYTES} bytes`, "put the large text in a file inside the scope and ask the agent to read it");
  }
  return text;
}

function isValidUtf8(buf: Buffer): boolean {
  try {
    new TextDecoder("utf-8", { fatal: true }).decode(buf);
    return true;
  } catch {
    return false;
  }
}

// `pod runs`, `pod replay`, `pod export`, `pod import`, `pod report` share this bundle (src/commands/recorded/index.ts says why).
export { runsCommand, replayCommand, exportCommand, importCommand, reportCommand } from "./recorded/index.js";
