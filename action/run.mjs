#!/usr/bin/env node
// The Action's run step (action.yml runs it after setup, install and sandbox): builds the
// pod command line from the inputs, runs the installed pod with its JSONL going to the
// events file under $RUNNER_TEMP, shows people pod's own pretty rendering of those events
// in a collapsible log group, and writes the step outputs and the step summary.
//
// Everything shown is inert: pod's pretty renderer makes model text inert (src/events/
// inert.ts), lib.cjs adds what the GitHub runner accepts beyond that (inertLogLine), and
// the whole of pod's output sits between `::stop-commands::<random token>` and its resume
// line, so even text that slipped through could not run a workflow command. Nothing the
// model wrote is ever passed to a shell: pod is spawned without one, outputs are written as
// heredocs with a random delimiter, annotations carry only pod's own words — except a
// review's findings (review: true), each escaped as the runner unescapes it (io.mjs command()).
// The step summary is `pod report --format markdown` of the run, itself inert (docs/report.md).
//
// Inputs come as INPUT_<NAME> variables (upper case, '-' as '_'); what the setup, install
// and sandbox steps found comes as POD_* variables (action.yml passes both explicitly).
// `node action/run.mjs --dry-run` prints the command line the inputs make, as JSON.
import { spawn, spawnSync } from "node:child_process";
import { appendFileSync, closeSync, existsSync, readFileSync, writeSync } from "node:fs";
import { createRequire } from "node:module";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { applyCarried, keepPatch } from "./carry.mjs";
import { command, exportVariables, openFresh, setOutputs, stopToken, writeFresh } from "./io.mjs";

const HERE = path.dirname(fileURLToPath(import.meta.url));

/** Prompts longer than this go through stdin (`pod run -`): argv has a size limit. */
const ARGV_PROMPT_MAX = 64 * 1024;

/** Every output the run step writes; action.yml declares each one (a test checks both ways). */
export const OUTPUTS = ["result", "exit-code", "session-id", "output", "pending", "denials", "error-code", "error-message", "events-file", "runtime-dir", "sarif-file", "export-file"];

const truthy = (v) => /^(true|yes|1|on)$/i.test(v);

export function readInputs(env = process.env) {
  const get = (name) => (env[`INPUT_${name.toUpperCase().replaceAll("-", "_")}`] ?? "").trim();
  const newSession = get("new-session").toLowerCase() || "auto";
  return {
    prompt: env.INPUT_PROMPT ?? "",
    manifest: get("manifest"),
    workingDirectory: get("working-directory") || ".",
    runtimeDir: get("runtime-dir"),
    approve: truthy(get("approve")),
    deny: get("deny"),
    resume: truthy(get("resume")),
    outputSchema: get("output-schema"),
    maxBudgetUsd: get("max-budget-usd"),
    timeout: get("timeout"),
    maxTurns: get("max-turns"),
    model: get("model"),
    session: get("session"),
    newSession: truthy(newSession) ? "true" : /^(false|no|0|off)$/i.test(newSession) ? "false" : newSession,
    eventsFile: get("events-file"),
    cacheKey: get("cache-key"),
    continueFrom: get("continue-from"),
    carryChanges: !/^(false|no|0|off)$/i.test(get("carry-changes") || "true"),
    review: truthy(get("review")),
    sarifFile: get("sarif-file"),
    exportFile: get("export-file"),
    importFile: get("import-file"),
    allowExitCodes: (get("allow-exit-codes") || "0,10,11").split(",").map((c) => Number(c.trim())),
  };
}

/**
 * Whether this run starts a fresh session. A new workflow run starts one; a run continues
 * the current session only when the runtime directory was restored from a cache of this
 * workflow run (an earlier job of it used the pod) or of the run `continue-from` names —
 * `restoredKey` is the key the restore matched, "" when nothing was restored.
 */
export function startsNewSession(inputs, restoredKey) {
  if (inputs.session) return false;
  if (inputs.newSession === "true") return true;
  if (inputs.newSession === "false") return false;
  return !restoredKey;
}

/**
 * The pod arguments for these inputs, or an error message. approve / deny / resume continue
 * a paused pod (perhaps paused in an earlier job); otherwise `prompt` starts a run. Paths stay
 * as given: pod resolves them against the working directory, where it is started.
 */
export function buildArgs(inputs, ctx = {}) {
  const args = [];
  let stdin;
  const decisions = [inputs.approve && "approve", inputs.deny && "deny", inputs.resume && "resume"].filter(Boolean);
  if (decisions.length > 1) return { error: `give one of approve, deny and resume, not ${decisions.join(" and ")}` };
  if (inputs.sarifFile && !inputs.review) return { error: "sarif-file needs review: true (the SARIF is made of a review's findings: docs/review.md)" };
  if (decisions.length) {
    args.push("resume", ...(inputs.approve ? ["--approve"] : inputs.deny ? ["--deny", inputs.deny] : []));
  } else {
    if (!inputs.prompt.trim()) return { error: "the prompt input is empty: give a prompt, or approve / deny / resume to continue a paused pod" };
    if (inputs.newSession !== "auto" && inputs.newSession !== "true" && inputs.newSession !== "false") {
      return { error: `new-session: ${JSON.stringify(inputs.newSession)} is not auto, true or false` };
    }
    if (inputs.prompt.length > ARGV_PROMPT_MAX) {
      args.push("run", "-");
      stdin = inputs.prompt;
    } else args.push("run", inputs.prompt);
    if (inputs.session) args.push("--session", inputs.session);
    else if (startsNewSession(inputs, ctx.restoredKey ?? "")) args.push("--new");
    if (inputs.outputSchema) args.push("--output-schema", inputs.outputSchema);
  }
  if (inputs.maxBudgetUsd) args.push("--max-budget-usd", inputs.maxBudgetUsd);
  if (inputs.timeout) args.push("--timeout", inputs.timeout);
  if (inputs.maxTurns) args.push("--max-turns", inputs.maxTurns);
  if (inputs.model) args.push("--model", inputs.model);
  if (inputs.manifest) args.push("--manifest", inputs.manifest);
  const runtimeDir = ctx.runtimeDir || inputs.runtimeDir;
  if (runtimeDir) args.push("--runtime-dir", runtimeDir);
  if (ctx.diffFile) args.push("--diff", ctx.diffFile);
  if (inputs.review) args.push("--review", ...(ctx.sarifFile ? ["--sarif", ctx.sarifFile] : []));
  args.push("--format", "jsonl");
  return { args, stdin };
}

/** The step outputs for an outcome (lib.cjs RunOutcome). */
export function outputsFor(o, { exitCode, eventsFile, runtimeDir, actionError, sarifFile = "", exportFile = "" }) {
  const lastError = o.errors.at(-1);
  const failed = actionError || o.result === "error" || o.result === "";
  const error = actionError ?? (failed ? lastError : undefined);
  return {
    result: actionError ? "error" : o.result,
    "exit-code": exitCode === undefined ? "" : String(exitCode),
    "session-id": o.session_id ?? "",
    // The answer of a finished run; a pause, a limit or an error has none (see pending).
    output: !actionError && o.result === "finished" ? o.text : "",
    pending: o.result === "paused" && !actionError ? JSON.stringify(o.pending) : "[]",
    denials: JSON.stringify(o.denials),
    "error-code": error?.code ?? "",
    "error-message": error?.message ?? "",
    "events-file": eventsFile,
    "runtime-dir": runtimeDir,
    "sarif-file": sarifFile,
    "export-file": exportFile,
  };
}

// The runner's limits on annotations shown per step (10 of each kind); more are still in the SARIF.
const MAX_ANNOTATIONS = 50;
const LEVEL = { error: "error", warning: "warning", note: "notice" };

/**
 * A review's findings (run_end.output of a --review run) as workflow-command annotations on
 * the pull request's files: `::warning file=…,line=…,endLine=…,title=…::message`, one per
 * finding, error/warning/notice by severity. A finding's path is relative to the scope root;
 * an annotation's to the workspace (the repository root). Every value goes through the
 * runner's escaping (io.mjs command(): `%`, CR and LF in all, `:` and `,` in properties), so
 * a path or message holding `\n::error::` or `,line=1` cannot add a command or a property; the
 * message is inert first (no terminal controls).
 */
export function findingAnnotations(output, { scopeRoot, workspace }, inert = (s) => s) {
  const findings = Array.isArray(output?.findings) ? output.findings : [];
  const lines = [];
  for (const f of findings.slice(0, MAX_ANNOTATIONS)) {
    if (typeof f?.path !== "string" || !Number.isInteger(f.line)) continue;
    const file = path.relative(workspace, path.join(scopeRoot, f.path)).split(path.sep).join("/");
    const props = { file, line: String(f.line) };
    if (Number.isInteger(f.end_line)) props.endLine = String(f.end_line);
    props.title = inert(`pod review${typeof f.rule === "string" ? `: ${f.rule}` : ""}`);
    lines.push(command(LEVEL[f.severity] ?? "warning", props, inert(String(f.message ?? ""))));
  }
  if (findings.length > MAX_ANNOTATIONS) lines.push(command("notice", { title: "pod review" }, `${findings.length - MAX_ANNOTATIONS} more findings are not annotated; the SARIF file (sarif-file output) has them all`));
  return lines;
}

/** `pod … resume` for people at a terminal, with the same places as this step. */
function resumeCommand(inputs, runtimeDir) {
  const q = (s) => (/^[\w@%+=:,./-]+$/.test(s) ? s : `'${s.replace(/'/g, `'\\''`)}'`);
  const parts = ["pod"];
  if (inputs.workingDirectory !== ".") parts.push("-C", q(inputs.workingDirectory));
  if (inputs.manifest) parts.push("--manifest", q(inputs.manifest));
  if (runtimeDir) parts.push("--runtime-dir", q(runtimeDir));
  return [...parts, "resume"].join(" ");
}

/** Inputs an approval step must repeat to find the same pod. */
function repeatInputs(inputs) {
  const r = {};
  if (inputs.workingDirectory !== ".") r["working-directory"] = inputs.workingDirectory;
  if (inputs.manifest) r.manifest = inputs.manifest;
  if (inputs.runtimeDir) r["runtime-dir"] = inputs.runtimeDir;
  if (inputs.cacheKey && inputs.cacheKey !== "pod-runtime") r["cache-key"] = inputs.cacheKey;
  return r;
}

/** The pod arguments that find the same pod as the run did (`-C` is the cwd). */
function podPlace(inputs, runtimeDir) {
  return [...(inputs.manifest ? ["--manifest", inputs.manifest] : []), ...(runtimeDir ? ["--runtime-dir", runtimeDir] : [])];
}

/** Runs one short pod command (report, export, import) after or before the run; never through a shell. */
function podOnce(podBin, args, { cwd, env }) {
  const r = spawnSync(process.execPath, [podBin, ...args], { cwd, env, encoding: "utf8", stdio: ["ignore", "pipe", "pipe"], maxBuffer: 64 * 1024 * 1024, timeout: 120_000 });
  const why = r.error?.message ?? (r.status !== 0 ? `exit ${r.status ?? r.signal}: ${(r.stderr || r.stdout || "").trim().split("\n")[0]}` : undefined);
  return { ok: why === undefined, stdout: r.stdout ?? "", why };
}

/**
 * The step summary: `pod report --format markdown` of this run (docs/report.md) and what
 * only this step knows (lib actionMarkdown: exit code, sandbox, the approval step). Without
 * a recorded run (pod refused before it owned the pod), or when the report fails, lib's own
 * summary from run_end, and the log says so.
 */
function writeSummary(lib, outcome, ctx, env, report) {
  if (!env.GITHUB_STEP_SUMMARY) return;
  let markdown;
  const runId = outcome.start?.run_id;
  if (runId && report) {
    const r = podOnce(report.podBin, ["report", runId, "--format", "markdown", ...report.place], report);
    if (r.ok && r.stdout.trim()) markdown = `${r.stdout.trimEnd()}\n\n${lib.actionMarkdown(outcome, ctx)}`;
    else report.say(lib.inertLogText(`pod: \`pod report\` failed (${r.why ?? "no output"}); the step summary is the Action's own, from the run's events`));
  }
  appendFileSync(env.GITHUB_STEP_SUMMARY, (markdown ?? lib.summaryMarkdown(outcome, ctx)) + "\n");
}

/** Where the installed pod and the helpers are (the install step's outputs; a checkout's build by default). */
function locate(env) {
  const podBin = env.POD_BIN || path.join(HERE, "..", "dist", "pod.cjs");
  const libPath = env.POD_ACTION_LIB || path.join(HERE, "dist", "lib.cjs");
  return { podBin, libPath };
}

/** Splits a byte stream into text lines. */
function lines(onLine) {
  let partial = "";
  return {
    push(chunk) {
      const parts = (partial + chunk).split("\n");
      partial = parts.pop() ?? "";
      for (const p of parts) onLine(p);
    },
    end() {
      if (partial) onLine(partial);
      partial = "";
    },
  };
}

async function main(env = process.env) {
  const inputs = readInputs(env);
  const runtimeDir = env.POD_RUNTIME_DIR_RESOLVED || (inputs.runtimeDir ? path.resolve(inputs.workingDirectory, inputs.runtimeDir) : "");
  const restoredKey = env.POD_RESTORED_KEY ?? "";
  const eventsFile = env.POD_EVENTS_FILE || path.join(env.RUNNER_TEMP || path.resolve(inputs.workingDirectory), `pod-events-${process.pid}.jsonl`);
  // The run's changes as a patch, to carry to later jobs: only a pod with a workspace has them.
  const carry = inputs.carryChanges && env.POD_SCOPE_ROOT && env.POD_CARRY_DIR
    ? { scopeRoot: env.POD_SCOPE_ROOT, carryDir: env.POD_CARRY_DIR, appliedFile: path.join(env.RUNNER_TEMP || path.dirname(env.POD_CARRY_DIR), "pod-action", "carried.json"), patchFile: env.POD_PATCH_FILE || path.join(path.dirname(eventsFile), "changes.patch") }
    : undefined;
  // With review: the findings as SARIF in the step's own directory (copied to sarif-file when given).
  const sarifTemp = inputs.review ? path.join(path.dirname(eventsFile), "findings.sarif") : undefined;
  // An imported pod is this run's own, like one restored from this workflow run's cache: its session continues.
  const built = buildArgs(inputs, { runtimeDir, restoredKey: restoredKey || (inputs.importFile ? "import-file" : ""), diffFile: carry?.patchFile, sarifFile: sarifTemp });
  if (process.argv.includes("--dry-run")) {
    process.stdout.write(JSON.stringify({ cwd: inputs.workingDirectory, command: ["pod", ...(built.args ?? [])], stdin: built.stdin !== undefined, error: built.error }) + "\n");
    return built.error ? 2 : 0;
  }
  const { podBin, libPath } = locate(env);
  const lib = createRequire(import.meta.url)(libPath);
  const cwd = path.resolve(env.GITHUB_WORKSPACE || ".", inputs.workingDirectory);
  const workspace = env.GITHUB_WORKSPACE || cwd;
  const say = (line) => process.stdout.write(`${line}\n`);
  const summaryCtx = (exitCode, actionError) => ({
    exitCode: exitCode ?? "",
    uses: env.POD_USES || "<owner>/pod@<ref>",
    repeatInputs: repeatInputs(inputs),
    resumeCommand: resumeCommand(inputs, runtimeDir),
    eventsFile,
    actionError,
  });
  const place = podPlace(inputs, runtimeDir);
  const finish = (outcome, exitCode, actionError, files = {}) => {
    setOutputs(outputsFor(outcome, { exitCode, eventsFile, runtimeDir, actionError, ...files }), env);
    writeSummary(lib, outcome, summaryCtx(exitCode, actionError), env, { podBin, place, cwd, env, say });
    if (runtimeDir) exportVariables({ POD_RUNTIME_DIR: runtimeDir }, env);
  };
  const noRun = { result: "", session_id: null, text: "", pending: [], denials: [], errors: [] };

  if (built.error) {
    say(command("error", { title: "pod" }, lib.inertLogText(built.error)));
    finish(noRun, undefined, { code: "invalid_input", message: built.error });
    return 2;
  }
  // Bash is on, and no sandbox starts here even after the sandbox step: fail before the run.
  if (env.POD_SANDBOX_STATUS === "unavailable") {
    const message = env.POD_SANDBOX_MESSAGE || "Bash needs an OS sandbox and none can start on this runner";
    say(command("error", { title: "pod: no sandbox for Bash" }, lib.inertLogText(message)));
    finish(noRun, undefined, { code: "sandbox_unavailable", message });
    return 1;
  }

  // A pod carried from another job or workflow run as a `pod export` bundle (docs/ci.md).
  if (inputs.importFile) {
    const file = path.resolve(cwd, inputs.importFile);
    const r = podOnce(podBin, ["import", file, ...place], { cwd, env });
    if (!r.ok) {
      const message = `import-file ${inputs.importFile}: ${r.why}`;
      say(command("error", { title: "pod: import-file" }, lib.inertLogText(message)));
      finish(noRun, undefined, { code: "invalid_input", message });
      return 1;
    }
    let got = {};
    try {
      got = JSON.parse(r.stdout);
    } catch {
      // pod printed its one object; nothing else to say if not
    }
    say(lib.inertLogText(`pod: imported ${file}: pod ${got.pod ?? "?"}, ${got.sessions ?? "?"} session(s), ${got.runs ?? "?"} recorded run(s), status ${got.status ?? "?"}`));
  }

  // What earlier jobs of this workflow run changed in the workspace, back in this fresh checkout.
  if (carry) {
    try {
      const applied = applyCarried({ ...carry, log: (l) => say(lib.inertLogText(l)) });
      if (applied.length) say(`pod: applied the changes of ${applied.length} earlier step(s) of this workflow run (${applied.join(", ")})`);
    } catch (err) {
      say(command("error", { title: "pod: carried changes" }, lib.inertLogText(err.message)));
      finish(noRun, undefined, { code: "invalid_input", message: err.message });
      return 1;
    }
  }

  // The events file: the step's own directory under $RUNNER_TEMP, a fresh file, opened once.
  const eventsFd = openFresh(eventsFile, workspace);
  const token = stopToken();
  const mode = built.args[0] === "resume" ? `resume${built.args[1] ? ` ${built.args[1]}` : ""}` : "run";
  say(`::group::pod ${mode}`);
  say(`::stop-commands::${token}`);
  const renderer = lib.createLogRenderer({ write: (l) => process.stdout.write(l), color: !env.NO_COLOR, resumeCommand: resumeCommand(inputs, runtimeDir) });
  const collector = lib.createCollector();
  let sandboxStop;

  const child = spawn(process.execPath, [podBin, ...built.args], { cwd, stdio: ["pipe", "pipe", "pipe"], env });
  child.stdin.on("error", () => {});
  child.stdin.end(built.stdin ?? "");
  const onSignal = (sig) => () => child.kill(sig === "SIGINT" ? "SIGINT" : "SIGTERM");
  process.on("SIGTERM", onSignal("SIGTERM"));
  process.on("SIGINT", onSignal("SIGINT"));

  const events = lines((line) => {
    if (!line.trim()) return;
    let e;
    try {
      e = JSON.parse(line);
    } catch {
      // pod prints only JSON on stdout; show anything else, inert.
      say(lib.inertLogText(`(not an event) ${line.slice(0, 500)}`));
      return;
    }
    renderer.event(e);
    collector.event(e);
    // pod says at run start that Bash has no sandbox: stop it, and fail the step below.
    if (e.type === "error" && e.code === "sandbox_unavailable" && !sandboxStop) {
      sandboxStop = e.message;
      child.kill("SIGTERM");
    }
  });
  // pod's stderr goes to the log on stdout, in order with the rest: a line written to the
  // step's stderr could reach the runner after the resume line, outside stop-commands.
  const stderr = lines((line) => say(lib.inertLogText(line)));
  child.stdout.on("data", (chunk) => {
    writeSync(eventsFd, chunk);
    events.push(chunk.toString("utf8"));
  });
  child.stderr.setEncoding("utf8").on("data", (d) => stderr.push(d));
  const exitCode = await new Promise((resolve, reject) => {
    child.on("error", reject);
    child.on("close", (c, signal) => resolve(c ?? (signal ? 128 : 1)));
  });
  events.end();
  stderr.end();
  renderer.end();
  closeSync(eventsFd);
  say(`::${token}::`);
  say("::endgroup::");

  const outcome = collector.outcome();
  if (carry) {
    const kept = keepPatch({ ...carry, label: `${env.GITHUB_JOB || "job"}-${env.GITHUB_RUN_ATTEMPT || "1"}` });
    if (kept) say(`pod: kept this step's changes for later jobs of this workflow run (${kept})`);
  }
  const actionError = sandboxStop ? { code: "sandbox_unavailable", message: `${sandboxStop}\nThe Action stopped pod at the start of the run: a job whose Bash calls are all refused is not a green job.` } : undefined;
  // Files for later steps, written now that no model process runs: fresh files, through no link.
  const files = { sarifFile: "", exportFile: "" };
  if (sarifTemp && existsSync(sarifTemp)) {
    files.sarifFile = sarifTemp;
    if (inputs.sarifFile) {
      try {
        const dest = path.resolve(cwd, inputs.sarifFile);
        writeFresh(dest, readFileSync(sarifTemp), workspace);
        files.sarifFile = dest;
      } catch (err) {
        say(command("warning", { title: "pod: sarif-file" }, lib.inertLogText(`${err.message}; the SARIF is at ${sarifTemp} (the sarif-file output)`)));
      }
    }
  }
  if (inputs.exportFile) {
    const bundle = path.join(path.dirname(eventsFile), "pod-state.tar.gz");
    const r = podOnce(podBin, ["export", "-o", bundle, ...place], { cwd, env });
    if (!r.ok) say(command("warning", { title: "pod: export-file" }, lib.inertLogText(`pod export failed: ${r.why}`)));
    else {
      try {
        const dest = path.resolve(cwd, inputs.exportFile);
        writeFresh(dest, readFileSync(bundle), workspace);
        files.exportFile = dest;
        say(lib.inertLogText(`pod: exported the pod to ${dest} (import-file: in a later job or workflow run continues it)`));
      } catch (err) {
        say(command("warning", { title: "pod: export-file" }, lib.inertLogText(err.message)));
      }
    }
  }
  finish(outcome, exitCode, actionError, files);

  // Copy for a workflow that asked for the events at a path of its own: written after pod
  // exited (no model process runs), through no link, as a fresh file.
  if (inputs.eventsFile) {
    try {
      writeFresh(path.resolve(cwd, inputs.eventsFile), readFileSync(eventsFile), workspace);
    } catch (err) {
      say(command("warning", { title: "pod: events-file" }, lib.inertLogText(err.message)));
    }
  }

  // One line for people, and an annotation where it matters; only pod's own words in them.
  const r = actionError ? "error" : outcome.result || "error";
  say(lib.inertLogText(`pod: ${r} (exit ${exitCode})${outcome.session_id ? `, session ${outcome.session_id}` : ""}; events: ${eventsFile}`));
  if (actionError) {
    say(command("error", { title: "pod: no sandbox for Bash" }, lib.inertLogText(actionError.message)));
    return 1;
  }
  // A review's findings as annotations on the pull request's files.
  if (inputs.review && outcome.result === "finished") {
    for (const line of findingAnnotations(outcome.output, { scopeRoot: env.POD_SCOPE_ROOT || cwd, workspace }, lib.inertLogText)) say(line);
  }
  if (outcome.result === "paused" && outcome.pending.length) {
    const names = outcome.pending.map((p) => p.name).join(", ");
    say(command("notice", { title: "pod is waiting for approval" }, lib.inertLogText(`${outcome.pending.length} call(s) wait: ${names}. The job summary shows each change and the exact step that approves or denies it (approve: true / deny: "why").`)));
  } else if (outcome.result === "error" || outcome.result === "") {
    const e = outcome.errors.at(-1);
    let message = e ? `${e.code}: ${e.message}` : `pod exited ${exitCode} without a result`;
    if (built.args[0] === "resume" && e?.code === "not_paused") {
      const restored = restoredKey ? `the runtime directory restored from ${restoredKey} has` : "no runtime directory of this workflow run was restored, so there is";
      message += ` — ${restored} no paused pod: the job that paused must be in this workflow run (or named by continue-from), with the same cache-key and matrix`;
    }
    say(command("error", { title: "pod" }, lib.inertLogText(message)));
  }
  // Paused (10) and limit reached (11) are outcomes a workflow branches on, not failures.
  return inputs.allowExitCodes.includes(exitCode) ? 0 : exitCode;
}

if (process.argv[1] && path.resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  main().then(
    (code) => {
      process.exitCode = code;
    },
    (err) => {
      process.stdout.write(`${command("error", { title: "pod action" }, String(err.message))}\n`);
      process.exitCode = 1;
    },
  );
}
