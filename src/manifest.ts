import { realpathSync, statSync } from "node:fs";
import path from "node:path";
import { parse as parseToml, stringify as stringifyToml, TomlError } from "smol-toml";
import "./zod-mini.js";
import * as z from "zod/mini";
import { DURATION_EXAMPLES, durationMs } from "./duration.js";
import { PodError } from "./errors.js";
import { readTrusted, type TrustedFile } from "./contract/read.js";
import { DEFAULT_SECRET_NAMES } from "./redact/secret-names.js";
import { isToolName, TOOL_NAMES } from "./tools/registry.js";

/** A built-in tool, or an MCP server's tool as the model sees it (mcp__<server>__<tool>). */
const toolName = () =>
  z.string().check(
    z.refine(isToolName, {
      message: `must be one of ${TOOL_NAMES.join(", ")} or an MCP tool name (mcp__<server>__<tool>)`,
    }),
  );
/** A duration: "90s", "10m", "1h30m", or a number of seconds (src/duration.ts, the same rule as --timeout). */
const duration = () =>
  z.union([z.string(), z.number()]).check(z.refine((v) => durationMs(v) !== undefined, `must be a duration ${DURATION_EXAMPLES}`));
/** The current Sonnet (claude-sonnet-4-5 reaches end-of-life on 2026-11-30). */
export const DEFAULT_MODEL = "claude-sonnet-5-5";

function isRegex(source: string): boolean {
  try {
    new RegExp(source);
    return true;
  } catch {
    return false;
  }
}

const nonEmpty = () => z.string().check(z.minLength(1));
const positiveInt = () => z.int().check(z.positive());

/** Variables passed into a confined process by name (`[tools.bash] env`, `[[hooks.*]] env`); never the provider credential. */
const envNames = (who: string) =>
  z._default(
    z.array(
      z.string().check(
        z.regex(/^[A-Za-z_][A-Za-z0-9_]*$/, "must be an environment variable name"),
        // The provider credential never enters a confined process (SPEC Containment): refused here, not silently dropped.
        z.refine((n) => n !== "ANTHROPIC_API_KEY" && n !== "ANTHROPIC_AUTH_TOKEN", { message: `the provider credential is never passed to ${who}` }),
      ),
    ),
    [],
  );
/** Extra host paths a sandbox shows read-only besides the system dirs and the scope (docs/tools.md, "Bash's sandbox"). */
const readPaths = () =>
  z._default(
    z.array(
      z.string().check(
        z.refine((p) => (p === "~" || p.startsWith("~/") || p.startsWith("/")) && !p.includes("\0") && !p.split("/").includes(".."), {
          message: 'must be an absolute path or start with ~/ (the real home), without ".."',
        }),
      ),
    ),
    [],
  );
const network = (byDefault: boolean) => z._default(z.union([z.boolean(), z.array(nonEmpty())]), byDefault);
const sandboxMode = () => z._default(z.enum(["required", "off"]), "required");

function hook() {
  return z.strictObject({
    matcher: z._default(
      z.string().check(
        z.refine((m) => isRegex(m), { message: 'must be a regular expression on the tool name (e.g. "Bash|Write"; "" matches every tool)' }),
      ),
      "",
    ),
    command: nonEmpty(),
    timeout_s: z._default(z.number().check(z.positive(), z.lte(3600)), 60),
    /** Hooks run in the OS sandbox like Bash (docs/extending.md); "off" runs this one unconfined (documented risk). */
    sandbox: sandboxMode(),
    network: network(false),
    env: envNames("a hook"),
    read: readPaths(),
  });
}

/**
 * A table other than [pod], its schema built the first time a manifest has it. Building
 * every zod schema of the manifest was ~6 ms of each command's start (`pod status`'s
 * most of all, bench/results.md), and an absent table takes its default unparsed.
 */
const table = <T extends z.ZodMiniType>(build: () => T) => z.lazy(build);

const ManifestSchema = z.strictObject({
  pod: z
    .strictObject({
      name: z.string().check(z.regex(/^[a-z0-9_-]+$/, "must use only lowercase letters, digits, '_' and '-'"), z.maxLength(64)),
      model: z._default(nonEmpty(), DEFAULT_MODEL),
      system_prompt: z.optional(z.string()),
      system_prompt_file: z.optional(nonEmpty()),
      append_system_prompt: z.optional(z.string()),
      instructions: z._default(z.array(nonEmpty()), ["AGENTS.md", "CLAUDE.md"]),
      max_cost_usd: z.optional(z.number().check(z.positive())),
      /** Variables whose values are [redacted] in every output (docs/security.md); replaces the default list. */
      secrets: z._default(z.array(z.string().check(z.regex(/^[A-Za-z_][A-Za-z0-9_]*$/, "must be an environment variable name"))), [...DEFAULT_SECRET_NAMES]),
      timeout: z.optional(duration()),
      max_tokens: z._default(positiveInt().check(z.lte(128_000)), 8192),
      max_turns: z._default(positiveInt(), 30),
      /** Recorded runs kept under runs/ (docs/replay.md); the oldest are removed at run start. 0 records nothing. */
      keep_runs: z._default(z.int().check(z.nonnegative(), z.lte(10_000)), 50),
      /** Extended thinking: "off", "adaptive" (the model decides), or a budget in tokens (the API's minimum is 1024). */
      thinking: z._default(
        z.union([z.enum(["off", "adaptive"]), z.int().check(z.gte(1024, "a thinking budget must be at least 1024 tokens (the API minimum)"))], {
          error: 'must be "off", "adaptive" or a whole number of tokens of at least 1024',
        }),
        "off",
      ),
    })
    .check(
      z.refine((p) => !(p.system_prompt !== undefined && p.system_prompt_file !== undefined), {
        message: "set either system_prompt or system_prompt_file, not both",
      }),
      // The API counts thinking inside max_tokens and refuses a budget that leaves no room for the answer.
      z.refine((p) => typeof p.thinking !== "number" || p.max_tokens > p.thinking, {
        message: "the thinking budget must be less than [pod] max_tokens, which counts thinking and the answer together",
        path: ["thinking"],
      }),
    ),
  provider: z._default(
    table(() => z.strictObject({
      name: z._default(z.enum(["anthropic", "bedrock", "vertex"]), "anthropic"),
      region: z.optional(nonEmpty()),
      project_id: z.optional(nonEmpty()),
      fallback_model: z.optional(nonEmpty()),
    })),
    { name: "anthropic" },
  ),
  /** USD per million tokens, for models pod has no price for (or to override one). */
  pricing: z._default(
    table(() => z.record(
      z.string(),
      z.strictObject({
        input: z.number().check(z.nonnegative()),
        output: z.number().check(z.nonnegative()),
        cache_read: z.optional(z.number().check(z.nonnegative())),
        cache_write: z.optional(z.number().check(z.nonnegative())),
      }),
    )),
    {},
  ),
  scope: z.optional(
    table(() => z.strictObject({
      root: z._default(nonEmpty(), "."),
      writable: z.optional(z.array(nonEmpty())),
      deny: z._default(z.array(nonEmpty()), []),
    })),
  ),
  tools: z._default(
    table(() => z.strictObject({
      ask: z._default(z.array(toolName()), []),
      disabled: z._default(z.array(toolName()), []),
      bash: z._default(
        z.strictObject({
          enabled: z._default(z.boolean(), false),
          allow: z._default(z.array(nonEmpty()), []),
          timeout_s: z._default(z.number().check(z.positive(), z.lte(3600)), 120),
          sandbox: sandboxMode(),
          network: network(false),
          env: envNames("Bash"),
          /** Extra host paths the sandbox shows read-only besides the system dirs and the scope (docs/tools.md, "Bash's sandbox"). */
          read: readPaths(),
        }),
        { enabled: false, allow: [], timeout_s: 120, sandbox: "required", network: false, env: [], read: [] },
      ),
    })),
    { ask: [], disabled: [], bash: { enabled: false, allow: [], timeout_s: 120, sandbox: "required", network: false, env: [], read: [] } },
  ),
  /** MCP servers: stdio (`command`) or streamable HTTP (`url`). "$VAR" values come from pod's environment. */
  mcp: z._default(
    table(() => z.record(
      z.string().check(z.regex(/^[A-Za-z0-9_-]+$/, "MCP server names use only letters, digits, _ and -")),
      z.strictObject({
        command: z.optional(z.array(nonEmpty()).check(z.minLength(1))),
        env: z._default(
          z.record(
            z.string(),
            z.string().check(
              // The provider credential never enters a confined process, by name or as another variable's value.
              z.refine((v) => !/\$\{?ANTHROPIC_(?:API_KEY|AUTH_TOKEN)\b/.test(v), { message: "the provider credential is never passed to an MCP server" }),
            ),
          ),
          {},
        ),
        url: z.optional(nonEmpty()),
        headers: z._default(z.record(z.string(), z.string()), {}),
        required: z._default(z.boolean(), false),
        startup_timeout_s: z._default(z.number().check(z.positive(), z.lte(600)), 30),
        /** A stdio server runs in the OS sandbox (docs/extending.md): its network (default on: a server usually needs one), "off" = unconfined, extra read-only paths. */
        network: network(true),
        sandbox: sandboxMode(),
        read: readPaths(),
      }).check(
        z.refine((s) => (s.command === undefined) !== (s.url === undefined), {
          message: "set exactly one of command (a stdio server) or url (a streamable HTTP server)",
        }),
      ),
    )),
    {},
  ),
  /** The user's own checks around tool calls (docs/extending.md). */
  hooks: z._default(
    table(() => z.strictObject({
      pre_tool_use: z._default(z.array(hook()), []),
      post_tool_use: z._default(z.array(hook()), []),
      stop: z._default(z.array(hook()), []),
    })),
    { pre_tool_use: [], post_tool_use: [], stop: [] },
  ),
  compaction: z._default(
    table(() => z.strictObject({
      threshold_tokens: z._default(positiveInt(), 120_000),
      keep_recent_turns: z._default(z.int().check(z.nonnegative()), 4),
    })),
    { threshold_tokens: 120_000, keep_recent_turns: 4 },
  ),
});

export type ManifestData = z.infer<typeof ManifestSchema>;

/** A validated manifest with everything relative resolved against the manifest's directory. */
export interface Manifest {
  /** Absolute path of pod.toml. */
  file: string;
  data: ManifestData;
  /** The system prompt text, read from system_prompt_file when that is used. */
  systemPrompt: string | undefined;
  /** Absolute, symlink-free scope root, or undefined when the pod has no file tools. */
  scopeRoot: string | undefined;
  /** pod.toml as read (bytes, identity, hash), pinned for the run (src/contract/); undefined without a manifest file. */
  source?: TrustedFile | undefined;
  /** system_prompt_file as read, when one is used; `systemPrompt` is its text. */
  systemPromptSource?: TrustedFile | undefined;
  /** No pod.toml was found: this is pod's default manifest (src/manifest-discovery.ts), and `file` is where one would be. */
  defaulted?: true;
}

/**
 * Reads and validates pod.toml. Every failure is an `invalid_manifest` PodError naming file, line, key and fix.
 * The file is read once, through a descriptor (a FIFO or device is refused, never waited
 * on); what was read is kept as `source` so the run pins exactly these bytes.
 */
export async function loadManifest(file: string): Promise<Manifest> {
  const abs = path.resolve(file);
  const read = await readTrusted(abs, abs);
  if (!read.ok) {
    throw new PodError(
      "invalid_manifest",
      read.reason === "missing" ? `no manifest at ${abs}` : `cannot read manifest: ${read.message}`,
      read.reason === "missing" ? "run `pod init` here, or point at one with -C <dir> or --manifest <file>" : "point -C/--manifest at a regular pod.toml file",
    );
  }
  return manifestFromText(read.file.bytes.toString("utf8"), abs, read.file);
}

/**
 * A manifest from its text, as if read from `abs` (relative paths resolve against its directory).
 * `source` is the file as read, when there is one (pinned for the run); a default manifest has none.
 */
export async function manifestFromText(text: string, abs: string, source?: TrustedFile): Promise<Manifest> {
  const data = parseManifestText(text, abs);
  const dir = path.dirname(abs);
  const prompt = await resolveSystemPrompt(data, dir, abs, text);
  return {
    file: abs,
    data,
    systemPrompt: prompt.text,
    scopeRoot: data.scope ? await resolveScopeRoot(data.scope.root, dir, abs, text) : undefined,
    source,
    systemPromptSource: prompt.source,
  };
}

export function parseManifestText(text: string, file: string): ManifestData {
  let raw: unknown;
  try {
    raw = parseToml(text);
  } catch (err) {
    if (err instanceof TomlError) {
      const first = err.message.split("\n")[0];
      throw new PodError("invalid_manifest", `${file}:${err.line}:${err.column}: ${first}`, "fix the TOML syntax at that position");
    }
    throw err;
  }
  const result = ManifestSchema.safeParse(raw);
  if (result.success) return result.data;
  const issue = result.error.issues[0]!;
  const keyPath = issue.code === "unrecognized_keys" ? [...issue.path, issue.keys[0]!] : issue.path;
  const where = `${file}${lineSuffix(text, keyPath.map(String))}`;
  throw new PodError("invalid_manifest", `${where}: ${describeKey(keyPath.map(String))}: ${issue.message}`, fixFor(issue, keyPath.map(String)));
}

function describeKey(keyPath: string[]): string {
  if (keyPath.length === 0) return "manifest";
  if (keyPath.length === 1) return `[${keyPath[0]}]`;
  return `[${keyPath.slice(0, -1).filter((k) => !/^\d+$/.test(k)).join(".")}] ${keyPath.at(-1)}`;
}

function fixFor(issue: z.core.$ZodIssue, keyPath: string[]): string {
  const key = keyPath.join(".");
  if (issue.code === "unrecognized_keys") {
    const guess = closestKey(issue.keys[0]!, knownKeys(issue.path.map(String)));
    return guess ? `did you mean '${guess}'? (docs/manifest.md lists every key)` : `remove or rename '${issue.keys[0]}'; docs/manifest.md lists every key`;
  }
  if (key === "pod.name" || (issue.code === "invalid_type" && keyPath[0] === "pod" && keyPath.length === 1))
    return 'every manifest needs [pod] name = "my-pod" (lowercase letters, digits, _ and -)';
  if (issue.code === "invalid_type") return `give ${key} a ${issue.expected}; docs/manifest.md shows an example`;
  if (key === "pod.thinking")
    return 'set [pod] thinking = "off", "adaptive" or a budget such as 4096, and raise [pod] max_tokens above the budget (e.g. max_tokens = 16000 with thinking = 8000)';
  if (issue.code === "invalid_value") return `use one of: ${(issue.values as unknown[]).join(", ")}`;
  if (keyPath.slice(0, 3).join(".") === "tools.bash.read")
    return 'list the paths Bash may read, each absolute or under the home, e.g. read = ["~/.cache/ms-playwright", "/opt/hostedtoolcache/node"]';
  return "see docs/manifest.md for the allowed values";
}

/** The keys the schema allows at `keyPath` (a table), read from the schema itself so the two never drift. */
function knownKeys(keyPath: string[]): string[] {
  type Schema = { _zod: { def: Def; innerType?: Schema } };
  type Def = { type: string; shape?: Record<string, Schema>; innerType?: Schema; valueType?: Schema; element?: Schema };
  // A table() is a lazy schema: its _zod.innerType is the table's schema (built once).
  const unwrap = (s: Schema): Def => {
    const d = s._zod.def;
    if (d.type === "lazy" && s._zod.innerType) return unwrap(s._zod.innerType);
    return d.innerType && (d.type === "default" || d.type === "optional" || d.type === "nullable") ? unwrap(d.innerType) : d;
  };
  let def = unwrap(ManifestSchema as unknown as Schema);
  for (const key of keyPath) {
    if (def.type === "object") {
      const next = def.shape?.[key];
      if (!next) return [];
      def = unwrap(next);
    } else if (def.type === "record" && def.valueType) def = unwrap(def.valueType);
    else if (def.type === "array" && def.element) def = unwrap(def.element);
    else return [];
  }
  return def.type === "object" ? Object.keys(def.shape ?? {}) : [];
}

/** The known key a misspelling most likely meant: within 2 edits (or a third of the word), or a case or _/- slip. */
export function closestKey(key: string, known: readonly string[]): string | undefined {
  const norm = (k: string) => k.toLowerCase().replace(/-/g, "_");
  const same = known.find((k) => norm(k) === norm(key));
  if (same) return same;
  let best: { k: string; d: number } | undefined;
  for (const k of known) {
    const d = editDistance(norm(key), norm(k));
    if (d <= Math.max(2, Math.floor(k.length / 3)) && (!best || d < best.d)) best = { k, d };
  }
  return best?.k;
}

function editDistance(a: string, b: string): number {
  let prev = Array.from({ length: b.length + 1 }, (_, j) => j);
  for (let i = 1; i <= a.length; i++) {
    const cur = [i];
    for (let j = 1; j <= b.length; j++) cur[j] = Math.min(prev[j]! + 1, cur[j - 1]! + 1, prev[j - 1]! + (a[i - 1] === b[j - 1] ? 0 : 1));
    prev = cur;
  }
  return prev[b.length]!;
}

/**
 * smol-toml does not report where a key was defined, so find it by scanning table
 * headers and `key =` lines. Good enough to point a person at the right line.
 */
function lineSuffix(text: string, keyPath: string[]): string {
  const keys = keyPath.filter((k) => !/^\d+$/.test(k));
  if (keys.length === 0) return "";
  const table = keys.slice(0, -1).join(".");
  const key = keys.at(-1)!;
  let current = "";
  const lines = text.split(/\r?\n/);
  let tableLine = -1;
  for (let i = 0; i < lines.length; i++) {
    const line = lines[i]!.trim();
    const header = /^\[+\s*([^\]]+?)\s*\]+/.exec(line);
    if (header) {
      current = header[1]!.replace(/\s+/g, "");
      if (current === keys.join(".")) tableLine = i;
      continue;
    }
    const assign = /^("?)([A-Za-z0-9_.-]+)\1\s*=/.exec(line);
    if (assign && current === table && assign[2] === key) return `:${i + 1}`;
  }
  return tableLine >= 0 ? `:${tableLine + 1}` : "";
}

async function resolveSystemPrompt(data: ManifestData, dir: string, file: string, text: string): Promise<{ text: string | undefined; source?: TrustedFile }> {
  if (data.pod.system_prompt_file === undefined) return { text: data.pod.system_prompt };
  const promptPath = path.resolve(dir, data.pod.system_prompt_file);
  const read = await readTrusted(promptPath, promptPath);
  if (!read.ok) {
    throw new PodError(
      "invalid_manifest",
      `${file}${lineSuffix(text, ["pod", "system_prompt_file"])}: [pod] system_prompt_file: ${read.reason === "missing" ? `cannot read ${promptPath} (ENOENT)` : read.message}`,
      read.reason === "missing" ? "create that file or fix the path (it is relative to pod.toml)" : "point system_prompt_file at a regular file (relative to pod.toml)",
    );
  }
  return { text: read.file.bytes.toString("utf8"), source: read.file };
}

async function resolveScopeRoot(root: string, dir: string, file: string, text: string): Promise<string> {
  const abs = path.resolve(dir, root);
  const fail = (why: string) =>
    new PodError(
      "invalid_manifest",
      `${file}${lineSuffix(text, ["scope", "root"])}: [scope] root: ${abs} ${why}`,
      "point scope.root at an existing directory (relative to pod.toml)",
    );
  // Synchronous, as the manifest itself is read (src/contract/read.ts): one stat at start,
  // and `pod status` then never loads node:fs/promises.
  try {
    if (!statSync(abs).isDirectory()) throw fail("is not a directory");
    return realpathSync.native(abs); // the same call fs/promises realpath makes
  } catch (err) {
    if (err instanceof PodError) throw err;
    throw fail("does not exist");
  }
}

/** The manifest as the run used it, defaults filled in, for the runtime dir's manifest.toml. */
export function manifestSnapshot(m: Manifest): string {
  const what = m.defaulted ? `pod's default manifest (no pod.toml found; it would be ${m.file})` : m.file;
  return `# Snapshot of ${what} as used by the last run (defaults filled in, command-line overrides applied).\n` + stringifyToml(m.data) + "\n";
}
