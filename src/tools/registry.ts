/**
 * The built-in tools by name: what every layer that is not the tool itself needs to
 * know about one. The manifest validates `[tools] disabled`/`ask` and `--allow-tool`
 * against these names, the system prompt lists the file tools from it, pretty output
 * and `pod report` summarise calls and results by it, compaction reads which calls touched which file
 * from it, and each tool takes its name and `readOnly` from here (toolIdentity). So adding a tool is
 * its module, its line in createToolbox (index.ts) and its entry here.
 *
 * Pure data, no imports: the manifest loads it on every command (start-up time counts).
 * A tool's description and input schema stay with its code (they are its contract
 * with the model, and need zod); docs/tools.md documents each one.
 */
export interface BuiltInToolInfo {
  /** "file": a scoped file tool (needs `[scope]`); "shell": Bash (`[tools.bash]`, the sandbox). */
  readonly room: "file" | "shell";
  /** The call changes nothing, so the model's message naming it need not be durable before it runs. */
  readonly readOnly: boolean;
  /** What a call does to the file at `input.path`, for compaction's list of touched files (a fresh process has no tracker). */
  readonly touches?: "read" | "write";
  /** Pretty output's one-line summary of a call: its path/pattern/command, or (Grep) "<pattern> in <path>". */
  readonly summary: "key-argument" | "pattern-in-path";
  /** What pretty output shows under a call waiting for approval: Edit's lines, Write's content, or nothing beyond the summary. */
  readonly pending: "edit" | "content" | "summary";
  /** Pretty output's summary of a successful result: "numbered-lines" counts Read's numbered lines. */
  readonly result?: "numbered-lines";
  /** Its input is a `pattern` searched under a `path` (Glob, Grep): `pod report` shows "<pattern> in <path>". */
  readonly searches?: true;
}

export const BUILT_IN_TOOLS = {
  Read: { room: "file", readOnly: true, touches: "read", summary: "key-argument", pending: "summary", result: "numbered-lines" },
  Write: { room: "file", readOnly: false, touches: "write", summary: "key-argument", pending: "content" },
  Edit: { room: "file", readOnly: false, touches: "write", summary: "key-argument", pending: "edit" },
  Glob: { room: "file", readOnly: true, summary: "key-argument", pending: "summary", searches: true },
  Grep: { room: "file", readOnly: true, summary: "pattern-in-path", pending: "summary", searches: true },
  Bash: { room: "shell", readOnly: false, summary: "key-argument", pending: "summary" },
} as const satisfies Record<string, BuiltInToolInfo>;

export type BuiltInToolName = keyof typeof BUILT_IN_TOOLS;

/** In the order the prompt and error messages list them. */
export const TOOL_NAMES = Object.keys(BUILT_IN_TOOLS) as BuiltInToolName[];

/** The built-in tool of that name, or undefined (an MCP tool, a typo). */
export function builtInTool(name: string): BuiltInToolInfo | undefined {
  return Object.hasOwn(BUILT_IN_TOOLS, name) ? BUILT_IN_TOOLS[name as BuiltInToolName] : undefined;
}

/** An MCP server's tool as the model sees it: mcp__<server>__<tool> (src/tools/mcp/tool.ts makes them). */
export const isMcpToolName = (name: string): boolean => /^mcp__[A-Za-z0-9_-]+__[A-Za-z0-9_-]+$/.test(name);

/** A name `[tools]` and `--allow-tool`/`--disallow-tool` accept: a built-in tool or an MCP tool. */
export const isToolName = (name: string): boolean => builtInTool(name) !== undefined || isMcpToolName(name);

/** A tool's identity as its module declares it: `{ ...toolIdentity("Read"), description, … }`. */
export function toolIdentity<N extends BuiltInToolName>(name: N): { name: N; readOnly: boolean } {
  return { name, readOnly: BUILT_IN_TOOLS[name].readOnly };
}
