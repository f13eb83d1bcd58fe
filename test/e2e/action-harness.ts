/**
 * A simulated GitHub Actions runner for pod's composite Action (action.yml), for the
 * action*.test.ts files. GitHub itself is not here; this runs what can be run for real:
 *
 * - each `run:` step with bash, its `env:` evaluated from the contexts (inputs with their
 *   defaults, steps.<id>.outputs/outcome, github, runner, matrix), with the runner's file
 *   commands: a fresh GITHUB_OUTPUT / GITHUB_ENV / GITHUB_PATH / GITHUB_STEP_SUMMARY per
 *   step, parsed as the runner parses them (heredocs must find their delimiter);
 * - the runner's workflow-command parser (actions/runner ActionCommand.cs: `::name …::` after
 *   leading Unicode white space, the legacy `##[name …]` anywhere in a line, stop-commands
 *   with a token), so tests see exactly which commands a log line would have run;
 * - `actions/cache/restore|save` against a local store (exact key, else the newest entry
 *   matching each restore-keys prefix in order; keys are immutable), and
 *   `actions/upload-artifact` into a directory (names must be unique per workflow run).
 *
 * The expression evaluator knows only the syntax action.yml uses and throws on anything
 * else, so a new expression cannot silently evaluate to "".
 */
import { spawn } from "node:child_process";
import { cpSync, existsSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, rmSync, statSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { pathToFileURL } from "node:url";
import { mkdtemp } from "node:fs/promises";
import { beforeAll, expect } from "vitest";
import { parse } from "yaml";
import { podEnv, REPO_ROOT } from "../helpers/pod-process.js";

export type Contexts = Record<string, any>;

// ---------------------------------------------------------------------------------------
// Expressions: literals, context paths (a.b-c.d), toJSON(x), always(), ==, !=, &&, ||, !.

type Tok = { t: "str" | "num" | "id" | "op" | "("; v: string } | { t: ")" | "," };

function tokenize(src: string): Tok[] {
  const out: Tok[] = [];
  let i = 0;
  while (i < src.length) {
    const c = src[i]!;
    if (/\s/.test(c)) i++;
    else if (c === "'") {
      let j = i + 1;
      let s = "";
      for (;;) {
        if (j >= src.length) throw new Error(`unterminated string in ${src}`);
        if (src[j] === "'" && src[j + 1] === "'") (s += "'"), (j += 2);
        else if (src[j] === "'") break;
        else s += src[j++];
      }
      out.push({ t: "str", v: s });
      i = j + 1;
    } else if (/[0-9]/.test(c)) {
      const m = /^[0-9.]+/.exec(src.slice(i))!;
      out.push({ t: "num", v: m[0] });
      i += m[0].length;
    } else if (/[A-Za-z_]/.test(c)) {
      const m = /^[A-Za-z_][\w-]*(\.[A-Za-z_][\w-]*)*/.exec(src.slice(i))!;
      out.push({ t: "id", v: m[0] });
      i += m[0].length;
    } else if (src.startsWith("==", i) || src.startsWith("!=", i) || src.startsWith("&&", i) || src.startsWith("||", i)) {
      out.push({ t: "op", v: src.slice(i, i + 2) });
      i += 2;
    } else if (c === "!") (out.push({ t: "op", v: "!" }), i++);
    else if (c === "(") (out.push({ t: "(", v: "(" }), i++);
    else if (c === ")") (out.push({ t: ")" }), i++);
    else if (c === ",") (out.push({ t: "," }), i++);
    else throw new Error(`unsupported character ${JSON.stringify(c)} in expression ${src}`);
  }
  return out;
}

const FUNCTIONS = new Set(["toJSON", "always"]);

/** Every context name an expression reads (for the availability check). */
export function contextsIn(src: string): string[] {
  return tokenize(src)
    .filter((t): t is { t: "id"; v: string } => t.t === "id" && !FUNCTIONS.has((t as any).v) && !/^(true|false|null)$/.test((t as any).v))
    .map((t) => t.v.split(".")[0]!);
}

function truthyValue(v: unknown): boolean {
  return !(v === "" || v === false || v === null || v === undefined || v === 0);
}

export function evaluate(src: string, ctx: Contexts): unknown {
  const toks = tokenize(src);
  let p = 0;
  const peek = () => toks[p];
  const lookup = (name: string) => {
    if (name === "true") return true;
    if (name === "false") return false;
    if (name === "null") return null;
    const [head, ...rest] = name.split(".");
    if (!(head! in ctx)) throw new Error(`unknown context ${head} in ${src}`);
    let v: any = ctx[head!];
    for (const k of rest) v = v === null || v === undefined ? undefined : v[k];
    return v ?? "";
  };
  const primary = (): unknown => {
    const t = toks[p++];
    if (!t) throw new Error(`unexpected end of ${src}`);
    if (t.t === "str") return t.v;
    if (t.t === "num") return Number(t.v);
    if (t.t === "op" && t.v === "!") return !truthyValue(primary());
    if (t.t === "(") {
      const v = or();
      if (toks[p++]?.t !== ")") throw new Error(`missing ) in ${src}`);
      return v;
    }
    if (t.t === "id") {
      if (peek()?.t === "(") {
        p++;
        const args: unknown[] = [];
        while (peek()?.t !== ")") {
          args.push(or());
          if (peek()?.t === ",") p++;
        }
        p++;
        if (t.v === "always") return true;
        if (t.v === "toJSON") return JSON.stringify(args[0] ?? null, null, 2);
        throw new Error(`unsupported function ${t.v} in ${src}`);
      }
      return lookup(t.v);
    }
    throw new Error(`unexpected token in ${src}`);
  };
  const cmp = (): unknown => {
    let l = primary();
    while (peek()?.t === "op" && ["==", "!="].includes((peek() as any).v)) {
      const op = (toks[p++] as any).v;
      const r = primary();
      const eq = String(l).toLowerCase() === String(r).toLowerCase();
      l = op === "==" ? eq : !eq;
    }
    return l;
  };
  const and = (): unknown => {
    let l = cmp();
    while (peek()?.t === "op" && (peek() as any).v === "&&") {
      p++;
      const r = cmp();
      l = truthyValue(l) ? r : l;
    }
    return l;
  };
  const or = (): unknown => {
    let l = and();
    while (peek()?.t === "op" && (peek() as any).v === "||") {
      p++;
      const r = and();
      l = truthyValue(l) ? l : r;
    }
    return l;
  };
  const v = or();
  if (p !== toks.length) throw new Error(`trailing tokens in ${src}`);
  return v;
}

/** A string with `${{ … }}` parts evaluated. */
export function interpolate(text: string, ctx: Contexts): string {
  return text.replace(/\$\{\{(.*?)\}\}/gs, (_m, e: string) => {
    const v = evaluate(e, ctx);
    return v === null || v === undefined ? "" : typeof v === "object" ? JSON.stringify(v) : String(v);
  });
}

/** Every `${{ … }}` in a value, with where it is. */
export function expressionsIn(value: unknown, where: string, out: { where: string; expr: string }[] = []): { where: string; expr: string }[] {
  if (typeof value === "string") for (const m of value.matchAll(/\$\{\{(.*?)\}\}/gs)) out.push({ where, expr: m[1]!.trim() });
  else if (Array.isArray(value)) value.forEach((v, i) => expressionsIn(v, `${where}[${i}]`, out));
  else if (value && typeof value === "object") for (const [k, v] of Object.entries(value)) expressionsIn(v, `${where}.${k}`, out);
  return out;
}

// ---------------------------------------------------------------------------------------
// The runner's file commands and workflow commands.

/** GITHUB_OUTPUT / GITHUB_ENV as the runner reads them (`name=value` or `name<<DELIM`). */
export function parseFileCommands(text: string): Record<string, string> {
  const out: Record<string, string> = {};
  const lines = text.split("\n");
  if (lines.at(-1) === "") lines.pop();
  for (let i = 0; i < lines.length; i++) {
    const line = lines[i]!;
    if (line === "") continue;
    const eq = line.indexOf("=");
    const hd = line.indexOf("<<");
    if (hd > 0 && (eq < 0 || hd < eq)) {
      const name = line.slice(0, hd);
      const delim = line.slice(hd + 2);
      const value: string[] = [];
      for (i++; ; i++) {
        if (i >= lines.length) throw new Error(`Matching delimiter not found '${delim}'`);
        if (lines[i] === delim) break;
        value.push(lines[i]!);
      }
      out[name] = value.join("\n");
    } else if (eq > 0) {
      out[line.slice(0, eq)] = line.slice(eq + 1);
    } else throw new Error(`Invalid format '${line}'`);
  }
  return out;
}

/** The commands the runner knows (its registered extensions). */
const REGISTERED = new Set(["set-env", "set-output", "save-state", "add-path", "add-mask", "add-matcher", "remove-matcher", "warning", "error", "notice", "debug", "group", "endgroup", "echo", "internal-set-repo-path", "stop-commands"]);

export interface Processed {
  command: string;
  properties: Record<string, string>;
  data: string;
  line: string;
}

/** The runner's .NET TrimStart(): every Unicode white space (JS \s plus U+0085). */
const trimStart = (s: string) => s.replace(/^[\s\u0085]+/u, "");

// The runner's unescaping, in its order (ActionCommand.cs).
const unescapeData = (s: string) => s.replaceAll("%0D", "\r").replaceAll("%0A", "\n").replaceAll("%25", "%");
const unescapeProperty = (s: string) => s.replaceAll("%0D", "\r").replaceAll("%0A", "\n").replaceAll("%3A", ":").replaceAll("%2C", ",").replaceAll("%25", "%");

function parseV2(message: string, registered: Set<string>): Processed | undefined {
  const m = trimStart(message);
  if (!m.startsWith("::")) return undefined;
  const end = m.indexOf("::", 2);
  if (end < 0) return undefined;
  const info = m.slice(2, end);
  const sp = info.indexOf(" ");
  const name = sp < 0 ? info : info.slice(0, sp);
  if (![...registered].some((r) => r.toLowerCase() === name.toLowerCase())) return undefined;
  const properties: Record<string, string> = {};
  if (sp > 0) for (const kv of info.slice(sp + 1).trim().split(",").filter(Boolean)) {
    const [k, v] = kv.split(/=(.*)/s);
    if (k && v !== undefined && v !== "") properties[k] = unescapeProperty(v);
  }
  return { command: name, properties, data: unescapeData(m.slice(end + 2)), line: message };
}

function parseV1(message: string, registered: Set<string>): Processed | undefined {
  const at = message.indexOf("##[");
  if (at < 0) return undefined;
  const rb = message.indexOf("]", at);
  if (rb < 0) return undefined;
  const info = message.slice(at + 3, rb);
  const sp = info.indexOf(" ");
  const name = sp < 0 ? info : info.slice(0, sp);
  if (![...registered].some((r) => r.toLowerCase() === name.toLowerCase())) return undefined;
  return { command: name, properties: {}, data: message.slice(rb + 1), line: message };
}

/** Feeds log lines through the runner's command processing; returns what ran. */
export class CommandProcessor {
  private stopped = false;
  private token: string | undefined;
  private readonly registered = new Set(REGISTERED);
  readonly processed: Processed[] = [];

  line(input: string): void {
    if (!input) return;
    const cmd = parseV2(input, this.registered) ?? parseV1(input, this.registered);
    if (!cmd) return;
    if (this.stopped) {
      if (this.token && cmd.command.toLowerCase() === this.token.toLowerCase()) {
        this.registered.delete(this.token);
        this.stopped = false;
        this.token = undefined;
        this.processed.push({ ...cmd, command: "(resume-commands)" });
      }
      return;
    }
    if (cmd.command === "stop-commands") {
      this.stopped = true;
      this.token = cmd.data;
      this.registered.add(cmd.data);
    }
    this.processed.push(cmd);
  }
}

// ---------------------------------------------------------------------------------------
// The job.

export interface Job {
  /** The Action's checkout ($GITHUB_ACTION_PATH). */
  actionPath: string;
  workspace: string;
  inputs: Record<string, string>;
  runId: string;
  attempt?: string;
  job?: string;
  matrix?: Record<string, unknown> | null;
  /** The local stand-in for GitHub's cache service, shared by the jobs of a test. */
  cacheStore: string;
  artifacts: string;
  /** Extra environment for the job (the workflow's `env:`, e.g. ANTHROPIC_API_KEY). */
  env?: Record<string, string | undefined>;
  /** $RUNNER_TEMP; a fresh one per job by default (the runner empties it per job). */
  runnerTemp?: string;
  runnerEnvironment?: "github-hosted" | "self-hosted";
}

export interface StepResult {
  id?: string;
  name: string;
  outcome: "success" | "failure" | "skipped";
  stdout: string;
  outputs: Record<string, string>;
  summary: string;
  code: number | null;
  /** Wall time of the step (for the report; never asserted). */
  ms?: number;
}

export interface JobResult {
  steps: StepResult[];
  outputs: Record<string, string>;
  /** Every log line, in order. */
  log: string[];
  processed: Processed[];
  summary: string;
  runnerTemp: string;
  env: Record<string, string>;
  path: string[];
}

const action = () => parse(readFileSync(path.join(REPO_ROOT, "action.yml"), "utf8"));

function runBash(script: string, cwd: string, env: NodeJS.ProcessEnv): Promise<{ code: number | null; stdout: string }> {
  return new Promise((resolve, reject) => {
    // The runner runs `bash --noprofile --norc -eo pipefail {0}`; stderr joins the log.
    const child = spawn("bash", ["--noprofile", "--norc", "-eo", "pipefail", "-c", script], { cwd, env, stdio: ["ignore", "pipe", "pipe"] });
    let out = "";
    child.stdout.setEncoding("utf8").on("data", (d: string) => (out += d));
    child.stderr.setEncoding("utf8").on("data", (d: string) => (out += d));
    child.on("error", reject);
    child.on("close", (code) => resolve({ code, stdout: out }));
  });
}

interface CacheEntry {
  key: string;
  created: number;
  dir: string;
}

function cacheIndex(store: string): CacheEntry[] {
  const f = path.join(store, "index.json");
  return existsSync(f) ? JSON.parse(readFileSync(f, "utf8")) : [];
}

let clock = 0;

const paths = (list: string) => list.split("\n").map((p) => p.trim()).filter(Boolean);

function usesStep(uses: string, w: Record<string, string>, job: Job, log: (s: string) => void): { outcome: "success" | "failure"; outputs: Record<string, string> } {
  mkdirSync(job.cacheStore, { recursive: true });
  if (uses === "actions/cache/restore@v4") {
    const entries = cacheIndex(job.cacheStore);
    const key = w.key!;
    let hit = entries.find((e) => e.key === key);
    let matched = hit?.key ?? "";
    if (!hit) {
      for (const prefix of (w["restore-keys"] ?? "").split("\n").map((s) => s.trim()).filter(Boolean)) {
        const found = entries.filter((e) => e.key.startsWith(prefix)).sort((a, b) => b.created - a.created)[0];
        if (found) {
          hit = found;
          matched = found.key;
          break;
        }
      }
    }
    if (hit) {
      // One directory per path of the entry (a newline-separated list, as actions/cache takes).
      for (const [i, p] of paths(w.path!).entries()) {
        if (!existsSync(path.join(hit.dir, String(i)))) continue;
        mkdirSync(p, { recursive: true });
        cpSync(path.join(hit.dir, String(i)), p, { recursive: true, verbatimSymlinks: true });
      }
      log(`Cache restored from key: ${hit.key}`);
    } else log(`Cache not found for input keys: ${key}`);
    return { outcome: "success", outputs: { "cache-hit": String(hit?.key === key), "cache-primary-key": key, "cache-matched-key": matched } };
  }
  if (uses === "actions/cache/save@v4") {
    const entries = cacheIndex(job.cacheStore);
    if (entries.some((e) => e.key === w.key)) {
      log(`Failed to save: Unable to reserve cache with key ${w.key}, another job may be creating this cache.`);
      return { outcome: "success", outputs: {} };
    }
    if (!paths(w.path!).some((p) => existsSync(p))) {
      log(`Warning: Path Validation Error: Path(s) specified in the action for caching do(es) not exist, hence no cache is being saved.`);
      return { outcome: "success", outputs: {} };
    }
    const dir = path.join(job.cacheStore, `entry-${entries.length}`);
    for (const [i, p] of paths(w.path!).entries()) if (existsSync(p)) cpSync(p, path.join(dir, String(i)), { recursive: true, verbatimSymlinks: true });
    entries.push({ key: w.key!, created: Date.now() * 1000 + clock++, dir });
    writeFileSync(path.join(job.cacheStore, "index.json"), JSON.stringify(entries));
    log(`Cache saved with key: ${w.key}`);
    return { outcome: "success", outputs: {} };
  }
  if (uses === "actions/upload-artifact@v4") {
    mkdirSync(job.artifacts, { recursive: true });
    const dest = path.join(job.artifacts, w.name!);
    if (existsSync(dest)) {
      log(`Error: Failed to CreateArtifact: an artifact with this name already exists on the workflow run`);
      return { outcome: "failure", outputs: {} };
    }
    const found = paths(w.path!).filter((p) => existsSync(p));
    if (!found.length) {
      log(`No files were found with the provided path: ${w.path}. No artifacts will be uploaded.`);
      return { outcome: "success", outputs: {} };
    }
    mkdirSync(dest);
    for (const p of found) cpSync(p, path.join(dest, path.basename(p)), { dereference: true });
    return { outcome: "success", outputs: { "artifact-id": "1" } };
  }
  throw new Error(`the harness cannot run ${uses}`);
}

/** Runs action.yml's steps as one job of a workflow run. */
export async function runJob(job: Job): Promise<JobResult> {
  const a = action();
  const runnerTemp = job.runnerTemp ?? mkdtempSync(path.join(tmpdir(), "pod-runner-temp-"));
  const inputs: Record<string, string> = {};
  for (const [name, def] of Object.entries<any>(a.inputs)) inputs[name] = job.inputs[name] ?? String(def.default ?? "");
  for (const name of Object.keys(job.inputs)) if (!(name in a.inputs)) throw new Error(`action.yml has no input ${name}`);
  const jobEnv: Record<string, string> = {};
  const pathAdds: string[] = [];
  const steps: Record<string, { outputs: Record<string, string>; outcome: string; conclusion: string }> = {};
  const results: StepResult[] = [];
  const log: string[] = [];
  const processor = new CommandProcessor();
  let failed = false;
  const github = {
    action_path: job.actionPath,
    action_repository: "",
    action_ref: "",
    job: job.job ?? "fix",
    run_id: job.runId,
    run_attempt: job.attempt ?? "1",
    workspace: job.workspace,
  };
  const runner = { temp: runnerTemp, os: "Linux", arch: "X64", environment: job.runnerEnvironment ?? "self-hosted" };
  const baseEnv: Record<string, string | undefined> = {
    ...process.env,
    ...job.env,
    CI: "true",
    GITHUB_ACTIONS: "true",
    GITHUB_WORKSPACE: job.workspace,
    GITHUB_RUN_ID: job.runId,
    GITHUB_RUN_ATTEMPT: job.attempt ?? "1",
    GITHUB_JOB: github.job,
    GITHUB_ACTION_PATH: job.actionPath,
    RUNNER_TEMP: runnerTemp,
    RUNNER_OS: "Linux",
    RUNNER_ARCH: "X64",
    RUNNER_ENVIRONMENT: runner.environment,
  };
  for (const [i, step] of (a.runs.steps as any[]).entries()) {
    const ctx: Contexts = { inputs, steps, github, runner, matrix: job.matrix ?? null, env: { ...baseEnv, ...jobEnv }, job: { status: failed ? "failure" : "success" }, strategy: {} };
    const cond = step.if === undefined ? !failed : (() => {
      const src = String(step.if).replace(/^\$\{\{|\}\}$/g, "");
      const always = /\balways\(\)/.test(src);
      return (always || !failed) && truthyValue(evaluate(src, ctx));
    })();
    const name = interpolate(step.name ?? step.uses ?? `step ${i}`, ctx);
    if (!cond) {
      if (step.id) steps[step.id] = { outputs: {}, outcome: "skipped", conclusion: "skipped" };
      results.push({ id: step.id, name, outcome: "skipped", stdout: "", outputs: {}, summary: "", code: null });
      continue;
    }
    const stepLog = (s: string) => {
      for (const l of s.split("\n")) {
        log.push(l);
        processor.line(l);
      }
    };
    let result: StepResult;
    const t0 = Date.now();
    if (step.run) {
      const files = mkdtempSync(path.join(runnerTemp, "_runner_file_commands-"));
      const f = (n: string) => {
        const p = path.join(files, n);
        writeFileSync(p, "");
        return p;
      };
      const env: NodeJS.ProcessEnv = {
        ...baseEnv,
        ...jobEnv,
        PATH: [...pathAdds, baseEnv.PATH].join(path.delimiter),
        GITHUB_OUTPUT: f("output"),
        GITHUB_ENV: f("env"),
        GITHUB_PATH: f("path"),
        GITHUB_STEP_SUMMARY: f("summary"),
      };
      for (const [k, v] of Object.entries<string>(step.env ?? {})) env[k] = interpolate(String(v), ctx);
      const r = await runBash(interpolate(step.run, ctx), job.workspace, env);
      if (r.stdout) stepLog(r.stdout.replace(/\n$/, ""));
      const outputs = parseFileCommands(readFileSync(env.GITHUB_OUTPUT!, "utf8"));
      Object.assign(jobEnv, parseFileCommands(readFileSync(env.GITHUB_ENV!, "utf8")));
      pathAdds.unshift(...readFileSync(env.GITHUB_PATH!, "utf8").split("\n").filter(Boolean).reverse());
      result = { id: step.id, name, outcome: r.code === 0 ? "success" : "failure", stdout: r.stdout, outputs, summary: readFileSync(env.GITHUB_STEP_SUMMARY!, "utf8"), code: r.code };
    } else {
      const w = Object.fromEntries(Object.entries<string>(step.with ?? {}).map(([k, v]) => [k, interpolate(String(v), ctx)]));
      const r = usesStep(step.uses, w, job, stepLog);
      result = { id: step.id, name, outcome: r.outcome, stdout: "", outputs: r.outputs, summary: "", code: r.outcome === "success" ? 0 : 1 };
    }
    result.ms = Date.now() - t0;
    if (step.id) steps[step.id] = { outputs: result.outputs, outcome: result.outcome, conclusion: result.outcome };
    if (result.outcome === "failure") failed = true;
    results.push(result);
  }
  const ctx: Contexts = { inputs, steps, github, runner, matrix: job.matrix ?? null, env: {}, job: {}, strategy: {} };
  const outputs = Object.fromEntries(Object.entries<any>(a.outputs).map(([k, v]) => [k, interpolate(String(v.value), ctx)]));
  return { steps: results, outputs, log, processed: processor.processed, summary: results.map((r) => r.summary).join(""), runnerTemp, env: jobEnv, path: pathAdds };
}

/**
 * A fresh copy of this repository as GitHub hands it to a job (`uses: owner/pod@ref` is
 * downloaded as a tree without .git): a clone of HEAD with the working tree's uncommitted
 * changes laid over it, so the tests check the tree they run in.
 */
export async function freshCheckout(): Promise<string> {
  const dir = mkdtempSync(path.join(tmpdir(), "pod-action-checkout-"));
  const git = (args: string[], cwd = REPO_ROOT) =>
    new Promise<string>((resolve, reject) => {
      // safe.directory: a checkout owned by another user (the suite run as an ordinary user over root's tree).
      const c = spawn("git", ["-c", "safe.directory=*", ...args], { cwd, stdio: ["ignore", "pipe", "pipe"] });
      let out = "";
      let err = "";
      c.stdout.setEncoding("utf8").on("data", (d: string) => (out += d));
      c.stderr.setEncoding("utf8").on("data", (d: string) => (err += d));
      c.on("close", (code) => (code === 0 ? resolve(out) : reject(new Error(`git ${args.join(" ")}: ${err}`))));
    });
  // (a local clone's upload-pack does not inherit -c: it gets the setting itself)
  await git(["clone", "-q", "--no-hardlinks", "--upload-pack", "git -c safe.directory=* upload-pack", REPO_ROOT, dir], tmpdir());
  const changed = (await git(["ls-files", "-z", "--modified", "--others", "--exclude-standard"])).split("\0").filter(Boolean);
  for (const f of changed) {
    const from = path.join(REPO_ROOT, f);
    if (!existsSync(from)) continue;
    mkdirSync(path.dirname(path.join(dir, f)), { recursive: true });
    if (statSync(from).isFile()) cpSync(from, path.join(dir, f));
  }
  for (const f of (await git(["ls-files", "-z", "--deleted"])).split("\0").filter(Boolean)) rmSync(path.join(dir, f), { force: true });
  rmSync(path.join(dir, ".git"), { recursive: true, force: true });
  return dir;
}

/** Lists a directory's files, recursively (for assertions). */
export function filesUnder(dir: string): string[] {
  if (!existsSync(dir)) return [];
  return readdirSync(dir, { withFileTypes: true }).flatMap((e) => (e.isDirectory() ? filesUnder(path.join(dir, e.name)).map((f) => `${e.name}/${f}`) : [e.name]));
}

/**
 * pod installed as the Action's install step would have left it, from this checkout's build
 * (`npm run build` first), put in the cache store under the key the setup step computes for
 * `actionPath`: the jobs of a test then take the install step's cache-hit path. (The miss
 * path, npm ci and all from a fresh clone, is action-install.test.ts.)
 */
/**
 * The Action's checkout for a test file: a copy of this working tree, taken once, never
 * the tree itself. The install cache is keyed on the checkout's content; were it this
 * tree, an edit made while the suite runs would miss the cache, and the install step
 * would run `npm ci` here, replacing the node_modules the suite is running from.
 */
export async function actionCheckout(): Promise<string> {
  const copy = mkdtempSync(path.join(tmpdir(), "pod-action-checkout-"));
  const skip = new Set(["node_modules", ".git", ".pod", "bench/.corpora", "bench/tree"]);
  cpSync(REPO_ROOT, copy, { recursive: true, filter: (src) => !skip.has(path.relative(REPO_ROOT, src).split(path.sep).join("/")) });
  return copy;
}

export async function seedInstallCache(store: string, actionPath: string): Promise<string> {
  const { installKey } = await importAction("setup.mjs");
  const { layout } = await importAction("install.mjs");
  const version = JSON.parse(readFileSync(path.join(actionPath, "package.json"), "utf8")).version;
  const key = installKey({ os: "Linux", arch: "X64", version, actionPath });
  const work = mkdtempSync(path.join(tmpdir(), "pod-seed-"));
  const npm = (args: string[], cwd: string) =>
    new Promise<string>((resolve, reject) => {
      const c = spawn("npm", args, { cwd, stdio: ["ignore", "pipe", "pipe"], env: { ...process.env, npm_config_offline: "true" } });
      let out = "";
      let err = "";
      c.stdout.setEncoding("utf8").on("data", (d: string) => (out += d));
      c.stderr.setEncoding("utf8").on("data", (d: string) => (err += d));
      c.on("close", (code) => (code === 0 ? resolve(out) : reject(new Error(`npm ${args.join(" ")}: ${err}`))));
    });
  const packed = JSON.parse(await npm(["pack", "--json", "--ignore-scripts", "--pack-destination", work], actionPath));
  const prefix = path.join(work, "prefix");
  await npm(["install", "--global", "--prefix", prefix, "--offline", "--no-audit", "--no-fund", path.join(work, packed[0].filename)], work);
  const l = layout(prefix);
  cpSync(path.join(actionPath, "action", "dist", "lib.cjs"), l.lib);
  writeFileSync(l.stamp, JSON.stringify({ key, version, from: actionPath }) + "\n");
  mkdirSync(store, { recursive: true });
  const entries = cacheIndex(store);
  const entry = path.join(work, "entry");
  mkdirSync(entry);
  cpSync(prefix, path.join(entry, "0"), { recursive: true, verbatimSymlinks: true });
  entries.push({ key, created: 0, dir: entry });
  writeFileSync(path.join(store, "index.json"), JSON.stringify(entries));
  return key;
}

/** One of the Action's scripts as a module (plain JavaScript: untyped here). */
export function importAction(name: string): Promise<any> {
  return import(pathToFileURL(path.join(REPO_ROOT, "action", name)).href);
}

/**
 * A workflow run id of the current test's own: a file's tests share one cache store, so
 * each test's jobs must be one workflow run that meets only its own jobs.
 */
export function testRunId(): string {
  const name = expect.getState().currentTestName ?? "";
  let h = 7;
  for (const c of name) h = (h * 31 + c.charCodeAt(0)) % 1_000_000_007;
  return String(100_000 + (h % 900_000));
}

/**
 * A test file's Action runner: in its beforeAll the Action is checked out (a copy of this
 * working tree, actionCheckout) and its install cache seeded once; `job()` runs a job of
 * the Action against the fake model at `url()`, with a fresh artifacts directory.
 */
export function actionRunner(url: () => string) {
  let store = "";
  let actionPath = "";
  beforeAll(async () => {
    store = await mkdtemp(path.join(tmpdir(), "pod-cache-store-"));
    actionPath = await actionCheckout();
    await seedInstallCache(store, actionPath);
  }, 120_000);
  return {
    get store() {
      return store;
    },
    get actionPath() {
      return actionPath;
    },
    async job(over: Partial<Job> & { workspace: string; inputs: Record<string, string> }): Promise<JobResult> {
      return runJob({ actionPath, runId: testRunId(), cacheStore: store, artifacts: await mkdtemp(path.join(tmpdir(), "pod-artifacts-")), env: podEnv(url()) as Record<string, string>, ...over });
    },
  };
}
