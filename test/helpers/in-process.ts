// The in-process harness (issue 26, item 2): `pod run` and `pod resume` driven in the test's
// own process. Everything below the command line is the real thing: runCommand/resumeCommand,
// loadContext, invokeRun's steps, the run loop, the tools, the real SDK over real HTTP against
// the fake Messages API (test/fake-server/, real SSE). No binary is spawned and nothing is
// mocked. The events go through the same EventSink the binary uses, to a "lines" writer that
// keeps the very JSON text the binary would print (each line is then checked against the
// schema `pod schema` prints); the runtime dir is the project's `.pod` in a temp dir.
//
// A run takes milliseconds, so the loop's branches are tested here (test/runtime/); the
// e2e tests (test/e2e/) keep proving the binary: the process, its signals, stdout, exit.
//
// What stays process-wide: the environment. The SDK, the retry policy and the redactor read
// process.env, so each run sets the harness's variables for its duration and puts the old
// values back after; runs in one file must not overlap (vitest runs a file's tests in order).
// TODO(issue 26 item 1): once configuration is read from the environment in one place, pass
// it to the run instead of setting process.env.
import { mkdtemp, mkdir, readFile, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import path from "node:path";
import { runCommand, type RunCommandOptions } from "../../src/commands/run.js";
import { resumeCommand, type ResumeOptions } from "../../src/commands/resume.js";
import { replayCommand } from "../../src/commands/recorded/replay.js";
import { errorsOnStderr, loadContext } from "../../src/commands/context.js";
import type { EventWriter } from "../../src/events/sink.js";
import { SessionStore } from "../../src/store/session-store.js";
import { startFakeServer, type FakeServer } from "../fake-server/server.js";
import { schemaErrors } from "./event-schema.js";
import { manifest as defaultManifest, TEST_API_KEY } from "./pod-process.js";

export { manifest } from "./pod-process.js";

export interface InProcessResult {
  /** The exit code the binary would exit with. */
  code: number;
  /** Every event, parsed from the line the binary would print. */
  events: any[];
  /** The `pod: …` lines the binary would print on stderr for `error` events (stdout not a terminal). */
  stderr: string[];
}

export interface InProcessPod {
  /** The project: pod.toml, the files, and the runtime dir `.pod/`. */
  dir: string;
  server: FakeServer;
  /** A path in the project. Flags that name files take them absolute: the test's cwd is not the project. */
  path(...parts: string[]): string;
  run(prompt: string, flags?: Omit<RunCommandOptions, "dir">): Promise<InProcessResult>;
  resume(flags?: Omit<ResumeOptions, "dir">): Promise<InProcessResult>;
  /** `pod replay [runId] [--tools live|recorded]`, offline: no key, and a base URL nothing answers on. */
  replay(runId?: string, tools?: "live" | "recorded"): Promise<InProcessResult>;
  /** `.pod/<pod>/status.json`. */
  status(): Promise<any>;
  /** The current session's messages, as the model sees them. */
  history(): Promise<any[]>;
  close(): Promise<void>;
}

export interface InProcessOptions {
  /** The fake server's script: one scripted response per request (test/fake-server/script.ts). */
  turns: object[];
  /** pod.toml (default: manifest() of pod-process.ts: pod "tester", a scope at the project root). */
  manifest?: string;
  files?: Record<string, string>;
  /** More environment for every run (POD_MAX_RETRIES…); undefined removes a variable. */
  env?: Record<string, string | undefined>;
  promptCache?: boolean;
  /**
   * Leave Grep on. Off by default (`--disallow-tool Grep`): a run starts Grep's worker
   * pool and a warm-up search, which live as long as the process (the binary exits; a test
   * process running dozens of pods would collect a pool per run).
   */
  grep?: boolean;
}

/** What `pod replay` runs with: it needs no key and no network. */
const OFFLINE = { ANTHROPIC_API_KEY: undefined, ANTHROPIC_AUTH_TOKEN: undefined, ANTHROPIC_BASE_URL: "http://127.0.0.1:9" };

/** Retries wait 10 ms, not seconds: what is retried is the same, the waits are just short. */
const FAST = { POD_RETRY_BASE_MS: "10" };

/** A project with a pod.toml and files in a temp dir, and a fake server playing `turns`. */
export async function startInProcessPod(opts: InProcessOptions): Promise<InProcessPod> {
  const server = await startFakeServer({ turns: opts.turns }, { promptCache: opts.promptCache });
  const dir = await mkdtemp(path.join(tmpdir(), "pod-inproc-"));
  await writeFile(path.join(dir, "pod.toml"), opts.manifest ?? defaultManifest());
  for (const [name, content] of Object.entries(opts.files ?? {})) {
    await mkdir(path.dirname(path.join(dir, name)), { recursive: true });
    await writeFile(path.join(dir, name), content);
  }
  const env = { ANTHROPIC_API_KEY: TEST_API_KEY, ANTHROPIC_AUTH_TOKEN: undefined, ANTHROPIC_BASE_URL: server.url, POD_RUNTIME_DIR: undefined, NO_COLOR: "1", ...FAST, ...opts.env };
  const podName = /^name\s*=\s*"([^"]+)"/m.exec(opts.manifest ?? defaultManifest())?.[1] ?? "tester";
  const podDir = path.join(dir, ".pod", podName);
  const noGrep = (disallow: string[] = []) => (opts.grep || disallow.includes("Grep") ? disallow : [...disallow, "Grep"]);
  const status = async () => JSON.parse(await readFile(path.join(podDir, "status.json"), "utf8"));
  return {
    dir,
    server,
    path: (...parts) => path.join(dir, ...parts),
    run: (prompt, flags = {}) => capture(env, (load) => runCommand(prompt, { ...flags, disallowTool: noGrep(flags.disallowTool), dir }, load)),
    resume: (flags = {}) => capture(env, (load) => resumeCommand({ ...flags, disallowTool: noGrep(flags.disallowTool), dir }, load)),
    replay: (runId, tools) => capture({ ...env, ...OFFLINE }, (load) => replayCommand(runId, { dir, ...(tools ? { tools } : {}) }, load)),
    status,
    history: async () => {
      const store = await SessionStore.openReadOnly(path.join(podDir, "sessions"), (await status()).session_id);
      return store.messages();
    },
    close: () => server.close(),
  };
}

type Load = typeof loadContext;

/** Runs one command with the harness's environment and an in-memory writer; returns what the binary would have printed. */
async function capture(env: Record<string, string | undefined>, command: (load: Load) => Promise<number>): Promise<InProcessResult> {
  const lines: string[] = [];
  const stderr: string[] = [];
  const memory: EventWriter = { kind: "lines", line: (json) => lines.push(json) };
  // The binary's own stderr rule for `error` events (stdout is not a terminal here), into memory.
  const writer = errorsOnStderr(memory, "jsonl", { isTTY: false }, { write: (s: string) => stderr.push(s.trimEnd()) } as unknown as NodeJS.WritableStream);
  const code = await withEnv(env, () => command((opts) => loadContext(opts, writer)));
  const events = lines.map((line) => JSON.parse(line));
  for (const e of events) {
    const problem = schemaErrors(e);
    if (problem) throw new Error(`event does not match pod schema: ${problem}\n${JSON.stringify(e)}`);
  }
  return { code, events, stderr };
}

async function withEnv<T>(vars: Record<string, string | undefined>, body: () => Promise<T>): Promise<T> {
  const saved = Object.fromEntries(Object.keys(vars).map((k) => [k, process.env[k]]));
  const set = (values: Record<string, string | undefined>) => {
    for (const [k, v] of Object.entries(values)) {
      if (v === undefined) delete process.env[k];
      else process.env[k] = v;
    }
  };
  set(vars);
  try {
    return await body();
  } finally {
    set(saved);
  }
}

export function ofType(events: any[], type: string): any[] {
  return events.filter((e) => e.type === type);
}

// Turn builders for the fake server's script (test/fake-server/script.ts).
// TODO(issue 26 item 3): fold into the shared turn builders in test/helpers/ when they land.
const usage = (input = 10, output = 5) => ({ input_tokens: input, output_tokens: output, cache_read_input_tokens: 0, cache_creation_input_tokens: 0 });

/** A response with these content blocks and stop reason. `extra`: expect, fault, delivery. */
export const reply = (content: object[], stop_reason: string | null = "end_turn", extra: object = {}) => ({ response: { content, stop_reason, usage: usage() }, ...extra });
/** A text answer. */
export const text = (t: string, stop_reason: string | null = "end_turn", extra: object = {}) => reply([{ type: "text", text: t }], stop_reason, extra);
/** A tool_use block. */
export const call = (id: string, name: string, input: object) => ({ type: "tool_use", id, name, input });
/** A response that makes these tool calls (stop_reason tool_use). */
export const calls = (blocks: object[], extra: object = {}) => reply(blocks, "tool_use", extra);
