#!/usr/bin/env node
// The GitHub Action's logic (action.yml runs this): builds the pod command line from the
// action's inputs, runs pod with its JSONL going to a file, and writes the step outputs.
// Kept out of the YAML so it can be tested: `node action/run.mjs --dry-run` prints the
// command it would run as JSON, and tests run it for real against a fake Messages API.
//
// Inputs come as INPUT_<NAME> variables (upper case, '-' as '_'): a composite action
// passes them explicitly in action.yml's env.
// POD_COMMAND overrides how pod is started (space-separated words; default "pod").
import { spawn } from "node:child_process";
import { appendFileSync, mkdirSync } from "node:fs";
import path from "node:path";
import { fileURLToPath } from "node:url";

/** Prompts longer than this go through stdin (`pod run -`): argv has a size limit. */
const ARGV_PROMPT_MAX = 64 * 1024;

export function readInputs(env = process.env) {
  const get = (name) => (env[`INPUT_${name.toUpperCase().replaceAll("-", "_")}`] ?? "").trim();
  return {
    prompt: env.INPUT_PROMPT ?? "",
    manifest: get("manifest"),
    workingDirectory: get("working-directory") || ".",
    runtimeDir: get("runtime-dir"),
    approve: /^(true|yes|1)$/i.test(get("approve")),
    deny: get("deny"),
    outputSchema: get("output-schema"),
    maxBudgetUsd: get("max-budget-usd"),
    timeout: get("timeout"),
    maxTurns: get("max-turns"),
    model: get("model"),
    session: get("session"),
    newSession: /^(true|yes|1)$/i.test(get("new-session")),
    eventsFile: get("events-file") || "pod-events.jsonl",
    allowExitCodes: (get("allow-exit-codes") || "0,10,11").split(",").map((c) => Number(c.trim())),
  };
}

/**
 * The pod arguments for these inputs, or an error message. `approve`/`deny` resume a
 * paused pod (a run that stopped at an approval gate, perhaps in an earlier job);
 * otherwise `prompt` starts a run. Paths stay as given: pod resolves them against the
 * working directory, where it is started.
 */
export function buildArgs(inputs) {
  const args = [];
  let stdin;
  if (inputs.approve && inputs.deny) return { error: "give either approve or deny, not both" };
  if (inputs.approve || inputs.deny) {
    args.push("resume", ...(inputs.approve ? ["--approve"] : ["--deny", inputs.deny]));
  } else {
    if (!inputs.prompt.trim()) return { error: "the prompt input is empty: give a prompt, or approve / deny to continue a paused pod" };
    if (inputs.prompt.length > ARGV_PROMPT_MAX) {
      args.push("run", "-");
      stdin = inputs.prompt;
    } else args.push("run", inputs.prompt);
    if (inputs.session) args.push("--session", inputs.session);
    if (inputs.newSession) args.push("--new");
    if (inputs.outputSchema) args.push("--output-schema", inputs.outputSchema);
  }
  if (inputs.maxBudgetUsd) args.push("--max-budget-usd", inputs.maxBudgetUsd);
  if (inputs.timeout) args.push("--timeout", inputs.timeout);
  if (inputs.maxTurns) args.push("--max-turns", inputs.maxTurns);
  if (inputs.model) args.push("--model", inputs.model);
  if (inputs.manifest) args.push("--manifest", inputs.manifest);
  if (inputs.runtimeDir) args.push("--runtime-dir", inputs.runtimeDir);
  args.push("--format", "jsonl");
  return { args, stdin };
}

/** Step outputs from the event lines: how the run ended, its session, its answer. */
export function outputsFrom(jsonl, exitCode) {
  const events = [];
  for (const line of jsonl.split("\n")) {
    if (!line.trim()) continue;
    try {
      events.push(JSON.parse(line));
    } catch {
      // pod prints only JSON on stdout; a torn last line (killed job) is skipped.
    }
  }
  const end = events.findLast((e) => e.type === "run_end");
  const sessionId = events.findLast((e) => typeof e.session_id === "string")?.session_id ?? "";
  const lastText = events.findLast((e) => e.type === "text_done")?.text ?? "";
  const output = end && end.output !== undefined ? JSON.stringify(end.output) : lastText;
  const result = end?.result ?? (events.some((e) => e.type === "error") ? "error" : "");
  const error = events.findLast((e) => e.type === "error");
  return { result, "exit-code": String(exitCode), "session-id": sessionId, output, ...(error ? { "error-code": error.code, "error-message": error.message } : {}) };
}

/** GITHUB_OUTPUT's multi-line syntax, with a delimiter that cannot occur in the value. */
export function formatOutputs(outputs) {
  let text = "";
  for (const [name, value] of Object.entries(outputs)) {
    let delim = "POD_EOF";
    while (value.includes(delim)) delim += "_";
    text += `${name}<<${delim}\n${value}\n${delim}\n`;
  }
  return text;
}

async function main() {
  const inputs = readInputs();
  const built = buildArgs(inputs);
  const command = (process.env.POD_COMMAND || "pod").split(" ").filter(Boolean);
  if (process.argv.includes("--dry-run")) {
    process.stdout.write(JSON.stringify({ cwd: inputs.workingDirectory, command: [...command, ...(built.args ?? [])], stdin: built.stdin !== undefined, error: built.error }) + "\n");
    return built.error ? 2 : 0;
  }
  if (built.error) {
    process.stderr.write(`::error::pod action: ${built.error}\n`);
    return 2;
  }
  const cwd = path.resolve(inputs.workingDirectory);
  const eventsFile = path.resolve(cwd, inputs.eventsFile);
  mkdirSync(path.dirname(eventsFile), { recursive: true });
  process.stderr.write(`pod action: ${[...command, ...built.args].map((a) => (/^[\w@%+=:,./-]+$/.test(a) ? a : JSON.stringify(a))).join(" ")}  (in ${cwd}; events → ${eventsFile})\n`);

  const code = await new Promise((resolve, reject) => {
    const child = spawn(command[0], [...command.slice(1), ...built.args], { cwd, stdio: ["pipe", "pipe", "inherit"] });
    child.on("error", reject);
    child.stdin.on("error", () => {});
    child.stdin.end(built.stdin ?? "");
    let out = "";
    child.stdout.setEncoding("utf8").on("data", (d) => {
      out += d;
      appendFileSync(eventsFile, d);
    });
    child.on("close", (c, signal) => resolve({ code: c ?? (signal ? 128 : 1), out }));
  });
  const outputs = { ...outputsFrom(code.out, code.code), "events-file": eventsFile };
  if (process.env.GITHUB_OUTPUT) appendFileSync(process.env.GITHUB_OUTPUT, formatOutputs(outputs));
  const summary = `pod: ${outputs.result || "no run"} (exit ${code.code})${outputs["error-message"] ? `: ${outputs["error-code"]}: ${outputs["error-message"]}` : ""}`;
  process.stderr.write(`${summary}\n`);
  if (code.code === 10) process.stderr.write("::notice::pod paused for approval: a later job can continue it with approve: true or deny: <reason>\n");
  // Paused (10) and limit reached (11) are outcomes a workflow branches on, not failures.
  return inputs.allowExitCodes.includes(code.code) ? 0 : code.code;
}

if (process.argv[1] && path.resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  main().then(
    (code) => process.exit(code),
    (err) => {
      process.stderr.write(`::error::pod action: ${err.message}\n`);
      process.exit(1);
    },
  );
}
