import type { z } from "zod";
import type { ManifestData } from "../manifest.js";
import type { ReadProof } from "./tracker.js";

/** What a tool hands back to the model. Tool errors are values, never throws. */
export interface ToolResult {
  output: string;
  isError: boolean;
  /** True when `output` was cut to fit a cap; the output then says so in words too. */
  truncated: boolean;
  /**
   * The boundary refused the call (scope, deny, protection, writable, the Bash allowlist, a
   * missing sandbox, a hook, a person): it goes into run_end.denials. An ordinary failure
   * (file not found, old_string not found, a failing command) is an error, not a denial.
   */
  denied?: boolean;
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
   * Edit and Write: the proof of what the model read of the file a call would change, so an
   * approved call can run in the process that resumes the pod (tracker.ts, docs/tools.md "The tracker").
   */
  readProof?: ReadProofs<I>;
  /**
   * Starts, in the background, what the tool's first call would otherwise wait for
   * (Grep: its worker threads). Called once a run knows the model can see the tool, so
   * it overlaps the first model request; never keeps the process alive.
   */
  prepare?(): void;
  /**
   * The run's loop is over: stops what prepare() (or a call) started, so the run's
   * end does not share the cores with it (Grep's threads may still be warming up when
   * a model answers at once). No call comes after it; prepare() after it does nothing.
   */
  release?(): void;
  run(input: I, ctx: ToolContext): Promise<ToolResult>;
}

export interface ReadProofs<I> {
  /** The proof for the file this call would change, if the model read it in this process and it is unchanged since. */
  take(input: I): Promise<ReadProof | undefined>;
  /** Counts a proof from a paused process as read here if the file still has that content. */
  adopt(proof: ReadProof): Promise<void>;
}

/** `[scope]` of the manifest with `root` made absolute (realpath'd). */
export interface ScopeConfig {
  root: string;
  /** Globs relative to root; undefined means all of root is writable. */
  writable?: string[] | undefined;
  /** Globs relative to root that no tool may read, write or list. */
  deny: string[];
  /** Absolute paths no tool may write (src/policy/protected.ts): the manifest, `.git/`, trusted files and the directories holding them. */
  readOnly: string[];
  /** Absolute paths no tool may read, list or write: the runtime directory. */
  hidden: string[];
  /** Directories inside the root that keep their name (src/policy/protected.ts): ancestors of protected paths. */
  pinned?: string[] | undefined;
}

/** `[tools.bash]` of the manifest (`read` may be left out: nothing extra is shown). */
export type BashConfig = Omit<ManifestData["tools"]["bash"], "read"> & { read?: string[] | undefined };
