import { spawn, type ChildProcess } from "node:child_process";
import { mkdtemp, mkdir, readFile, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { EVENT_COMMANDS, schemaErrors } from "./event-schema.js";

export const REPO_ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "../..");
/** The built binary: e2e tests run exactly what users run (`npm test` builds first). */
export const POD_BIN = path.join(REPO_ROOT, "dist/pod.cjs");
export const TEST_API_KEY = "sk-ant-test-0123456789abcdef-SECRET";

export interface PodResult {
  code: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
  /** stdout parsed line by line, as a CI pipeline would with jq. Throws on a non-JSON line. */
  events: any[];
}

export interface PodOptions {
  cwd: string;
  env?: Record<string, string | undefined>;
  stdin?: string | Buffer;
  /** A command pod runs under, e.g. SmallDisk.enter(cwd) (helpers/small-disk.ts): pod is then its last argument. */
  prefix?: string[];
}

/** Environment for a pod process talking to the fake server at `baseUrl`. */
export function podEnv(baseUrl: string | undefined, extra: Record<string, string | undefined> = {}): Record<string, string | undefined> {
  const env: Record<string, string | undefined> = { ...process.env, POD_RUNTIME_DIR: undefined, ANTHROPIC_API_KEY: TEST_API_KEY, NO_COLOR: "1", ...extra };
  if (baseUrl) env.ANTHROPIC_BASE_URL = baseUrl;
  for (const key of Object.keys(env)) if (env[key] === undefined) delete env[key];
  return env;
}

export function parseJsonl(stdout: string): any[] {
  return stdout
    .split("\n")
    .filter((l) => l.length > 0)
    .map((line, i) => {
      try {
        return JSON.parse(line);
      } catch {
        throw new Error(`stdout line ${i + 1} is not JSON: ${line.slice(0, 200)}`);
      }
    });
}

/** Starts pod without waiting; for signal and concurrency tests. */
export function spawnPod(args: string[], opts: PodOptions): ChildProcess {
  const [command, ...before] = [...(opts.prefix ?? []), process.execPath, POD_BIN];
  const child = spawn(command!, [...before, ...args], { cwd: opts.cwd, env: opts.env as NodeJS.ProcessEnv, stdio: ["pipe", "pipe", "pipe"] });
  // A pod that refuses early (e.g. an oversized prompt) closes stdin before reading it all.
  child.stdin!.on("error", () => {});
  if (opts.stdin !== undefined) child.stdin!.end(opts.stdin);
  else child.stdin!.end();
  return child;
}

export function collect(child: ChildProcess, args: readonly string[] = []): Promise<PodResult> {
  let stdout = "";
  let stderr = "";
  child.stdout!.setEncoding("utf8").on("data", (d: string) => (stdout += d));
  child.stderr!.setEncoding("utf8").on("data", (d: string) => (stderr += d));
  return new Promise((resolve, reject) => {
    child.on("error", reject);
    child.on("close", (code, signal) => {
      try {
        const events = parseJsonl(stdout);
        // Every event line of every e2e run must match the schema `pod schema` prints.
        if (EVENT_COMMANDS.has(args.find((a) => !a.startsWith("-")) ?? "") || events.some((e) => e?.type === "error" && "v" in e)) {
          for (const e of events) {
            const problem = schemaErrors(e);
            if (problem) throw new Error(`event does not match pod schema: ${problem}\n${JSON.stringify(e)}`);
          }
        }
        resolve({ code, signal, stdout, stderr, events });
      } catch (err) {
        reject(new Error(`${(err as Error).message}\nstderr: ${stderr}`));
      }
    });
  });
}

export async function runPod(args: string[], opts: PodOptions): Promise<PodResult> {
  return collect(spawnPod(args, opts), args);
}

/** A temp project with a pod.toml (and optional files), returned as its directory. */
export async function makeProject(manifest: string, files: Record<string, string | Buffer> = {}): Promise<string> {
  const dir = await mkdtemp(path.join(tmpdir(), "pod-e2e-"));
  await writeFile(path.join(dir, "pod.toml"), manifest);
  for (const [name, content] of Object.entries(files)) {
    await mkdir(path.dirname(path.join(dir, name)), { recursive: true });
    await writeFile(path.join(dir, name), content);
  }
  return dir;
}

export function manifest(opts: { name?: string; scope?: boolean; extra?: string; maxTurns?: number } = {}): string {
  return [
    "[pod]",
    `name = "${opts.name ?? "tester"}"`,
    'model = "claude-sonnet-5-5"',
    'system_prompt = "You fix code."',
    `max_turns = ${opts.maxTurns ?? 10}`,
    ...(opts.scope === false ? [] : ["", "[scope]", 'root = "."', 'deny = [".pod/**"]']),
    opts.extra ?? "",
  ].join("\n");
}

/** The runtime directory of the pod `name` in a project made by makeProject (the default runtime dir). */
export const podDirOf = (dir: string, name = "tester") => path.join(dir, ".pod", name);

/** The pod's status.json, parsed. */
export async function readStatus(dir: string, name = "tester"): Promise<any> {
  return JSON.parse(await readFile(path.join(podDirOf(dir, name), "status.json"), "utf8"));
}

export function ofType(events: any[], type: string): any[] {
  return events.filter((e) => e.type === type);
}
