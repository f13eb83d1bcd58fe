import { EventSink, type EventWriter } from "../events/sink.js";
import { jsonlWriter } from "../events/jsonl.js";
import type { Manifest } from "../manifest.js";
import { findAndLoadManifest } from "../manifest-discovery.js";
import { inertText } from "../events/inert.js";
import { refuse } from "../events/refuse.js";
import { resolveRuntimeDir } from "../store/paths.js";
import { Redactor } from "../redact/redactor.js";
import path from "node:path";
import { hostEnv } from "../env-config.js";

/** Options every command accepts (SPEC "Common options"). */
export interface GlobalOptions {
  dir?: string;
  manifest?: string;
  runtimeDir?: string;
  format?: string;
  maxTurns?: number;
  model?: string;
}

/**
 * jsonl: every event, one per line (scripts, the default off a terminal); pretty: for
 * people (the default on one); json: one result object at the end; text: only the final
 * answer. json and text shape `run` and `resume`; other commands print their document
 * as with jsonl (json) or pretty (text).
 */
export const FORMATS = ["jsonl", "pretty", "json", "text"] as const;
export type Format = (typeof FORMATS)[number];

export function resolveFormat(flag: string | undefined, stdout: NodeJS.WriteStream = process.stdout): Format {
  if ((FORMATS as readonly string[]).includes(flag ?? "")) return flag as Format;
  return stdout.isTTY ? "pretty" : "jsonl";
}

/** Whether a command that prints a document (status, history, sessions) prints it for people. */
export function forPeople(format: Format): boolean {
  return format === "pretty" || format === "text";
}

/** Where `pod init` writes: `--manifest`, else pod.toml in `-C` or the current directory (no search upward). */
export function manifestPath(opts: GlobalOptions): string {
  if (opts.manifest) return path.resolve(opts.dir ?? ".", opts.manifest);
  return path.resolve(opts.dir ?? ".", "pod.toml");
}

/** `pod resume` as this invocation would have to be repeated, for the pause notice. */
function resumeCommand(opts: GlobalOptions): string {
  const q = (s: string) => (/^[\w@%+=:,./-]+$/.test(s) ? s : `'${s.replace(/'/g, `'\\''`)}'`);
  const parts = ["pod"];
  if (opts.dir) parts.push("-C", q(opts.dir));
  if (opts.manifest) parts.push("--manifest", q(opts.manifest));
  if (opts.runtimeDir) parts.push("--runtime-dir", q(opts.runtimeDir));
  return [...parts, "resume"].join(" ");
}

export async function eventWriter(format: Format, opts: GlobalOptions = {}): Promise<EventWriter> {
  let writer: EventWriter;
  if (format === "jsonl") writer = jsonlWriter();
  else if (format === "json" || format === "text") writer = (await import("../events/answer.js")).answerWriter(format);
  else {
    const { prettyWriter } = await import("../events/pretty.js");
    writer = prettyWriter(process.stdout, undefined, { resumeCommand: resumeCommand(opts) });
  }
  return errorsOnStderr(writer, format);
}

/**
 * SPEC: whenever stdout is not a terminal, each `error` pod prints is also one plain
 * line on stderr — `pod: <message>; fix: <hint>` — so a CI log whose stdout went to a
 * file still says what went wrong. That is every `error` event, before or during a run
 * (a tool's own failure is a tool_result, not an `error`). With `--format text` stdout
 * holds only the answer, so errors go to stderr on a terminal too. In pretty mode on a
 * terminal the error is already on screen.
 */
export function errorsOnStderr(writer: EventWriter, format: Format, stdout: { isTTY?: boolean } = process.stdout, stderr: NodeJS.WritableStream = process.stderr): EventWriter {
  if (stdout.isTTY && format !== "text") return writer;
  const say = (message: string) => {
    try {
      stderr.write(`pod: ${inertText(message).replace(/\s*\n\s*/g, " ")}\n`);
    } catch {
      // stderr gone: nothing else to tell.
    }
  };
  if (writer.kind === "lines") {
    return {
      kind: "lines",
      line(json, type) {
        writer.line(json, type);
        if (type === "error") say((JSON.parse(json) as { message: string }).message);
      },
    };
  }
  return {
    kind: "events",
    event(e) {
      writer.event(e);
      if (e.type === "error") say(e.message);
    },
  };
}

export interface CommandContext {
  manifest: Manifest;
  runtimeDir: string;
  sink: EventSink;
  format: Format;
}

/**
 * Loads what every pod-bound command needs: the manifest found as git finds `.git`, or
 * pod's default one (src/manifest-discovery.ts). A bad manifest is reported as one
 * `error` line (the sink is returned so the caller can print it) before anything in
 * the runtime directory is touched.
 */
export async function loadContext(opts: GlobalOptions, writer?: EventWriter): Promise<CommandContext> {
  const format = resolveFormat(opts.format);
  const manifest = await findAndLoadManifest(opts);
  const runtimeDir = resolveRuntimeDir(opts.runtimeDir, manifest.file);
  // One Redactor for the invocation, from the environment as it is now and [pod] secrets.
  const redactor = Redactor.fromEnv(hostEnv(), manifest.data.pod.secrets);
  // `writer`: where the events go instead of stdout (test/helpers/in-process.ts keeps them in memory).
  return { manifest, runtimeDir, sink: new EventSink(writer ?? (await eventWriter(format, opts)), null, redactor), format };
}

/**
 * Runs a command that needs the manifest. Anything thrown before the command owns
 * the pod (bad manifest, bad arguments) becomes one `error` line and its exit code.
 */
export async function withContext(opts: GlobalOptions, body: (ctx: CommandContext) => Promise<number>, load = loadContext): Promise<number> {
  let ctx: CommandContext;
  try {
    ctx = await load(opts);
  } catch (err) {
    // No manifest to read [pod] secrets from: the default names apply.
    const sink = new EventSink(await eventWriter(resolveFormat(opts.format), opts), null, Redactor.fromEnv(hostEnv()));
    return refuse(sink, err);
  }
  try {
    return await body(ctx);
  } catch (err) {
    return refuse(ctx.sink, err);
  }
}
