import type { z } from "zod";
import type { ManifestData } from "../manifest.js";

/** What a tool hands back to the model. Tool errors are values, never throws. */
export interface ToolResult {
  output: string;
  isError: boolean;
  /** True when `output` was cut to fit a cap; the output then says so in words too. */
  truncated: boolean;
}

export interface ToolContext {
  /** Aborted when the run is cancelled; long tools (Bash, Grep) must stop promptly. */
  signal: AbortSignal;
}

/**
 * One tool the model can call. `inputSchema` is a zod object schema: it is converted
 * to the JSON Schema the API receives and it validates what the model sends back.
 */
export interface Tool<I = any> {
  name: string;
  description: string;
  inputSchema: z.ZodType<I>;
  /**
   * The JSON Schema the API receives, when the tool brings its own (MCP servers do);
   * otherwise it is derived from `inputSchema`, which then only needs to accept an object.
   */
  jsonSchema?: Record<string, unknown>;
  /**
   * The call changes nothing (Read, Glob, Grep), so the model's message naming it need
   * not be durable before it runs. Absent means it may change something: the run loop
   * fsyncs the message first. A tool wrapped in hooks never says so (a hook script may
   * do anything).
   */
  readOnly?: boolean;
  /**
   * Starts, in the background, what the tool's first call would otherwise wait for
   * (Grep: its worker threads). Called once a run knows the model can see the tool, so
   * it overlaps the first model request; never keeps the process alive.
   */
  prepare?(): void;
  run(input: I, ctx: ToolContext): Promise<ToolResult>;
}

/** `[scope]` of the manifest with `root` made absolute (realpath'd). */
export interface ScopeConfig {
  root: string;
  /** Globs relative to root; undefined means all of root is writable. */
  writable?: string[] | undefined;
  /** Globs relative to root that no tool may read, write or list. */
  deny: string[];
  /** Absolute paths no tool may write (src/tools/protected.ts): the manifest, `.git/`, hook scripts. */
  readOnly: string[];
  /** Absolute paths no tool may read, list or write: the runtime directory. */
  hidden: string[];
}

/** `[tools.bash]` of the manifest. */
export type BashConfig = ManifestData["tools"]["bash"];
