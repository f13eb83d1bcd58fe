import path from "node:path";
import { EventSink, jsonlWriter, type EventWriter } from "../events/sink.js";
import { loadManifest, type Manifest } from "../manifest.js";
import { refuse } from "../events/refuse.js";
import { resolveRuntimeDir } from "../store/paths.js";
import { Redactor } from "../redact/redactor.js";

/** Options every command accepts (SPEC "Common options"). */
export interface GlobalOptions {
  dir?: string;
  manifest?: string;
  runtimeDir?: string;
  format?: string;
  maxTurns?: number;
  model?: string;
}

export type Format = "jsonl" | "pretty";

/** jsonl when stdout is not a terminal (pipelines), pretty when a person is watching. */
export function resolveFormat(flag: string | undefined, stdout: NodeJS.WriteStream = process.stdout): Format {
  if (flag === "jsonl" || flag === "pretty") return flag;
  return stdout.isTTY ? "pretty" : "jsonl";
}

export function manifestPath(opts: GlobalOptions): string {
  if (opts.manifest) return path.resolve(opts.dir ?? ".", opts.manifest);
  return path.resolve(opts.dir ?? ".", "pod.toml");
}

export async function eventWriter(format: Format): Promise<EventWriter> {
  if (format === "jsonl") return jsonlWriter();
  const { prettyWriter } = await import("../events/pretty.js");
  return prettyWriter();
}

export interface CommandContext {
  manifest: Manifest;
  runtimeDir: string;
  sink: EventSink;
  format: Format;
}

/**
 * Loads what every pod-bound command needs. A bad manifest is reported as one
 * `error` line (the sink is returned so the caller can print it) before anything
 * in the runtime directory is touched.
 */
export async function loadContext(opts: GlobalOptions): Promise<CommandContext> {
  const format = resolveFormat(opts.format);
  const file = manifestPath(opts);
  const manifest = await loadManifest(file);
  const runtimeDir = resolveRuntimeDir(opts.runtimeDir, manifest.file);
  // One Redactor for the invocation, from the environment as it is now and [pod] secrets.
  const redactor = Redactor.fromEnv(process.env, manifest.data.pod.secrets);
  return { manifest, runtimeDir, sink: new EventSink(await eventWriter(format), null, redactor), format };
}


/**
 * Runs a command that needs the manifest. Anything thrown before the command owns
 * the pod (bad manifest, bad arguments) becomes one `error` line and its exit code.
 */
export async function withContext(opts: GlobalOptions, body: (ctx: CommandContext) => Promise<number>): Promise<number> {
  let ctx: CommandContext;
  try {
    ctx = await loadContext(opts);
  } catch (err) {
    // No manifest to read [pod] secrets from: the default names apply.
    const sink = new EventSink(await eventWriter(resolveFormat(opts.format)), null, Redactor.fromEnv(process.env));
    return refuse(sink, err);
  }
  try {
    return await body(ctx);
  } catch (err) {
    return refuse(ctx.sink, err);
  }
}
