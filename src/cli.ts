import { Command, InvalidArgumentError, Option } from "commander";
import type { GlobalOptions } from "./commands/context.js";
import { DURATION_EXAMPLES, durationMs } from "./duration.js";
import { VERSION } from "./version.js";

function positiveInt(value: string): number {
  const n = Number(value);
  if (!Number.isInteger(n) || n <= 0) throw new InvalidArgumentError("must be a whole number greater than 0");
  return n;
}

function positiveNumber(value: string): number {
  const n = Number(value);
  if (!Number.isFinite(n) || n <= 0) throw new InvalidArgumentError("must be a number greater than 0");
  return n;
}

/** A duration as --timeout takes it (src/duration.ts), in milliseconds. */
function durationArg(value: string): number {
  const ms = durationMs(value);
  if (ms === undefined) throw new InvalidArgumentError(`not a duration; write it ${DURATION_EXAMPLES}`);
  return ms;
}

/** The run options `run` and `resume` share (SPEC "Run options"); checked in src/runtime/run-options.ts. */
function withRunOptions(cmd: Command): Command {
  return cmd
    .option("--output-schema <file>", "JSON Schema the final answer must match; it is returned as run_end.output")
    .option("-o, --output-last-message <file>", "write the final answer (the structured output, else the last text) to this file")
    .option("--max-budget-usd <usd>", "stop before a request once this run has cost this much (overrides [pod] max_cost_usd)", positiveNumber)
    .option("--timeout <duration>", 'limit on the whole run, e.g. "90s", "10m", "1h30m"; a bare number is seconds (overrides [pod] timeout)')
    .option("--fail-on-denial", "exit 1 when any tool call was denied (run_end.denials is not empty); the result is unchanged")
    .option("--allow-tool <tool>", "make this tool available without approval for this run (repeatable; overrides [tools] disabled and ask)", collect)
    .option("--disallow-tool <tool>", "hide this tool from the model for this run (repeatable; added to [tools] disabled)", collect)
    .option("--append-system-prompt <text>", "add this to the system prompt for this run (after [pod] append_system_prompt)")
    .option("--bash", "enable Bash for this run (overrides [tools.bash] enabled; its allowlist and sandbox still apply)")
    .option("--no-bash", "disable Bash for this run (overrides [tools.bash] enabled)")
    .option("--diff <file>", "write a patch of every change the run made to the scope (any tool, Bash included); `git apply` applies it to the tree as it was")
    .option("--review", "the final answer is pod's findings schema {summary, findings: [{path, line, end_line?, severity, rule?, message}]} (docs/review.md)")
    .option("--sarif <file>", "with --review: write the findings as SARIF 2.1.0, paths relative to the scope root");
}

function collect(value: string, previous: string[] | undefined): string[] {
  return [...(previous ?? []), value];
}

/**
 * The command line. Each command's module is imported only when it runs, so
 * `pod --version` and `pod status` do not pay for the SDK or the run loop.
 */
export function buildProgram(setExit: (code: number) => void): Command {
  const program = new Command("pod")
    .description("A coding agent for shell scripts and CI: JSONL events on stdout, exit codes that say what happened.")
    .version(VERSION, "-V, --version")
    .option("-C, --dir <dir>", "where to look for pod.toml: that directory, then its parents (default: the current directory)")
    .option("--manifest <file>", "exactly this manifest file (default: the nearest pod.toml, else pod's default manifest)")
    .option("--runtime-dir <dir>", "runtime directory (default: $POD_RUNTIME_DIR or .pod/ next to the manifest)")
    .addOption(
      new Option("--format <format>", "jsonl (every event), pretty (for people), json (one result object at the end), text (only the final answer); default: jsonl when stdout is not a TTY; `pod report`: markdown (default) or json").choices(["jsonl", "pretty", "json", "text", "markdown"]),
    )
    .option("--max-turns <n>", "turn limit for this run (overrides [pod] max_turns)", positiveInt)
    .option("--model <model>", "model for this run (overrides [pod] model)")
    .showSuggestionAfterError(true)
    .configureHelp({ showGlobalOptions: true })
    .addHelpText(
      "after",
      "\nExit codes: 0 finished, 10 paused, 11 limit reached (turns, budget, time), 1 run error, 2 usage/manifest error, 3 state conflict.\nDocs: docs/events.md, docs/manifest.md, docs/exit-codes.md",
    )
    .showHelpAfterError("(run `pod --help` for usage)")
    .configureOutput({ writeOut: (s) => process.stdout.write(s), writeErr: (s) => process.stderr.write(s) })
    // Set before the subcommands are added so they inherit it: usage errors become exit 2 in bin/pod.ts.
    .exitOverride()
    // markdown is a format of `pod report` only (one --format option serves every command).
    .hook("preAction", (_program, action) => {
      if (action.optsWithGlobals().format === "markdown" && action.name() !== "report") {
        action.error(`error: --format markdown is for \`pod report\`; \`pod ${action.name()}\` prints jsonl, pretty, json or text`, { exitCode: 2, code: "commander.invalidArgument" });
      }
    });

  const globals = (cmd: Command) => cmd.optsWithGlobals() as GlobalOptions;

  program
    .command("init")
    .description("write a commented pod.toml in the current directory")
    .option("--name <name>", "pod name (default: the directory's name)")
    .option("--force", "overwrite an existing pod.toml")
    .addHelpText("after", "\nExamples:\n  $ pod init\n  $ pod init --name fixer\n  $ pod -C services/api init\n")
    .action(async (_o, cmd: Command) => setExit(await (await import("./commands/init.js")).initCommand(globals(cmd))));

  withRunOptions(
    program
      .command("run")
      .description("append a prompt to the current session and run until the model stops")
      .argument("[prompt]", 'the task; "-" reads it from stdin')
      .option("--session <id>", "continue this stored session (it becomes current; see `pod sessions`)")
      .option("--new", "start a fresh session first (old ones are kept)"),
  )
    .option("--print-system-prompt", "print the system prompt this run would send, and exit")
    .addHelpText(
      "after",
      "\nExamples:\n  $ pod run \"fix the failing test\"\n  $ cat task.md | pod run -\n  $ pod run \"make lint pass\" --max-turns 10 | jq -c 'select(.type==\"run_end\")'\n  $ pod run --new --timeout 10m --max-budget-usd 2 \"triage this failure\"\n  $ pod run --output-schema verdict.schema.json -o verdict.json \"is this PR safe to merge?\"\n",
    )
    .action(async (prompt: string | undefined, _o, cmd: Command) => setExit(await (await import("./commands/run.js")).runCommand(prompt, globals(cmd))));

  withRunOptions(program.command("resume"))
    .description("continue a paused pod (after cancel, a crash, or an approval gate)")
    .option("--approve", "run the tool call waiting for approval")
    .option("--deny [reason]", "refuse the tool call waiting for approval; the reason goes to the model")
    .addHelpText("after", "\nExamples:\n  $ pod resume\n  $ pod resume --approve\n  $ pod resume --deny \"do not touch the lockfile\"\n")
    .action(async (_o, cmd: Command) => setExit(await (await import("./commands/resume.js")).resumeCommand(globals(cmd))));

  program
    .command("cancel")
    .description("stop the process running this pod; it saves and leaves the pod paused")
    .option("--no-wait", "return at once instead of waiting for the run to stop")
    .option("--timeout <duration>", 'how long to wait for the run to stop, e.g. "30s", "2m" (a bare number is seconds)', durationArg, 30_000)
    .addHelpText("after", "\nExamples:\n  $ pod cancel\n  $ pod cancel --no-wait\n")
    .action(async (_o, cmd: Command) => setExit(await (await import("./commands/cancel.js")).cancelCommand(globals(cmd))));

  program
    .command("status")
    .description("print status.json")
    .addHelpText("after", "\nExamples:\n  $ pod status | jq -r .status\n  $ pod status --format pretty\n")
    .action(async (_o, cmd: Command) => setExit(await (await import("./commands/status.js")).statusCommand(globals(cmd))));

  program
    .command("history")
    .description("print the current session's messages, one JSON object per line")
    .option("--full", "include messages replaced by compaction")
    .option("--session <id>", "another stored session (see `pod sessions`)")
    .addHelpText("after", "\nExamples:\n  $ pod history | jq -r 'select(.role==\"assistant\") | .content[] | select(.type==\"text\") | .text'\n  $ pod history --full --format pretty\n")
    .action(async (_o, cmd: Command) => setExit(await (await import("./commands/history.js")).historyCommand(globals(cmd))));

  program
    .command("sessions")
    .description("list stored sessions; the current one is marked")
    .addHelpText("after", "\nExamples:\n  $ pod sessions --format pretty\n")
    .action(async (_o, cmd: Command) => setExit(await (await import("./commands/sessions.js")).sessionsCommand(globals(cmd))));

  program
    .command("new")
    .description("start a fresh session (old ones are kept)")
    .addHelpText("after", "\nExamples:\n  $ pod new && pod run \"start over: ...\"\n")
    .action(async (_o, cmd: Command) => setExit(await (await import("./commands/new.js")).newCommand(globals(cmd))));

  program
    .command("prompt")
    .description("print the system prompt `pod run` sends (built-in or replaced, plus instruction files)")
    .addHelpText("after", "\nExamples:\n  $ pod prompt\n  $ pod prompt | diff - expected-prompt.md\n")
    .action(async (_o, cmd: Command) => setExit(await (await import("./commands/prompt.js")).promptCommand(globals(cmd))));

  program
    .command("compact")
    .description("compact the current session now (a model-written summary replaces older turns)")
    .option("--session <id>", "compact another stored session (see `pod sessions`)")
    .addHelpText("after", "\nExamples:\n  $ pod compact\n")
    .action(async (_o, cmd: Command) => setExit(await (await import("./commands/compact.js")).compactCommand(globals(cmd))));

  program
    .command("replay")
    .description("re-run a recorded run offline (default: the last one): the model's answers come from the recording; no key, no network")
    .argument("[run-id]", "the run to replay (see `pod runs`)")
    .addOption(new Option("--tools <how>", "live: run the tools again on the workspace; recorded: answer them from the recording, touching nothing").choices(["live", "recorded"]).default("live"))
    .addHelpText("after", "\nExit 1 with error code `diverged` at the first request that differs from the recorded one.\n\nExamples:\n  $ pod replay\n  $ pod replay 20260101T120000Z-a1b2c3 --tools recorded\n  $ pod replay --tools recorded || echo \"the request changed\"\n")
    .action(async (runId: string | undefined, _o, cmd: Command) => setExit(await (await import("./commands/run.js")).replayCommand(runId, globals(cmd) as never)));

  program
    .command("runs")
    .description("list the recorded runs, oldest first (JSON lines; a table with --format pretty)")
    .addHelpText("after", "\nExamples:\n  $ pod runs --format pretty\n  $ pod runs | jq -r 'select(.result==\"error\") | .run_id'\n")
    .action(async (_o, cmd: Command) => setExit(await (await import("./commands/run.js")).runsCommand(globals(cmd))));

  program
    .command("report")
    .description("a recorded run (default: the last) for people and CI dashboards: prompt, answer, files changed, tool calls, denials, turns, tokens, cost, time")
    .argument("[run-id]", "the run to report (see `pod runs`)")
    .addHelpText(
      "after",
      "\n--format markdown (the default) or json; stdout is the report itself, not events (docs/report.md).\n\nExamples:\n  $ pod report\n  $ pod report >> \"$GITHUB_STEP_SUMMARY\"\n  $ pod report 20260101T120000Z-a1b2c3 --format json | jq '.tool_calls[] | select(.outcome!=\"ok\")'\n",
    )
    .action(async (runId: string | undefined, _o, cmd: Command) => setExit(await (await import("./commands/run.js")).reportCommand(runId, globals(cmd))));

  program
    .command("export")
    .description("pack the pod's state (manifest snapshot, status, sessions, recorded runs) into one checksummed .tar.gz")
    .requiredOption("-o, --output <file>", "the bundle to write (.tar.gz)")
    .option("--session <id>", "only this session and its runs (default: every session)")
    .addHelpText("after", "\nExamples:\n  $ pod export -o pod-state.tar.gz\n  $ pod export --session 20260101T120000Z-a1b2c3 -o one-session.tar.gz\n")
    .action(async (_o, cmd: Command) => setExit(await (await import("./commands/run.js")).exportCommand(globals(cmd) as never)));

  program
    .command("import")
    .description("unpack a bundle from `pod export` into this runtime directory (every checksum verified first)")
    .argument("<file>", "the bundle (.tar.gz)")
    .option("--force", "replace a pod whose session history differs from the bundle's (the replaced files are kept as backups)")
    .addHelpText("after", "\nExamples:\n  $ pod import pod-state.tar.gz && pod resume --approve\n")
    .action(async (file: string, _o, cmd: Command) => setExit(await (await import("./commands/run.js")).importCommand(file, globals(cmd) as never)));

  program
    .command("schema")
    .description("print the JSON Schema of every event line")
    .addHelpText("after", "\nExamples:\n  $ pod schema > pod-events.schema.json\n")
    .action(async () => setExit(await (await import("./commands/schema.js")).schemaCommand()));

  return program;
}

/**
 * Parses argv with commander and runs the command. Usage errors exit 2 (SPEC: usage
 * or manifest error); otherwise the command's result is the exit code.
 */
export async function runCli(argv: readonly string[]): Promise<number> {
  let code = 0;
  const program = buildProgram((c) => {
    code = c;
  });
  try {
    await program.parseAsync([...argv]);
  } catch (err) {
    const e = err as { code?: string; exitCode?: number };
    if (e.code === "commander.helpDisplayed" || e.code === "commander.version" || e.code === "commander.help") return 0;
    if (typeof e.exitCode !== "number") {
      process.stderr.write(`pod: internal error: ${(err as Error).stack ?? err}\n`);
      return 1;
    }
    // commander already told the person on stderr; a pipeline gets the one `error` line
    // (with --format json the result object carrying it; with --format text nothing: stdout is for the answer).
    if (!process.stdout.isTTY) {
      const message = (err as Error).message.replace(/^error: /, "");
      const format = formatIn(argv);
      const error = { code: "invalid_input", message };
      if (format === "json") process.stdout.write(JSON.stringify({ v: 1, session_id: null, result: "error", text: "", errors: [error] }) + "\n");
      else if (format !== "text") process.stdout.write(JSON.stringify({ v: 1, seq: 0, ts: new Date().toISOString(), session_id: null, type: "error", ...error }) + "\n");
    }
    return 2;
  }
  return code;
}

/** The --format an argv asks for, read without commander (which just refused it). */
function formatIn(argv: readonly string[]): string | undefined {
  let format: string | undefined;
  argv.forEach((a, i) => {
    if (a === "--format") format = argv[i + 1];
    else if (a.startsWith("--format=")) format = a.slice("--format=".length);
  });
  return format;
}
