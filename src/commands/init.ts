import { appendFile, readdir, readFile, writeFile } from "node:fs/promises";
import ignore from "ignore";
import path from "node:path";
import { EXIT, PodError } from "../errors.js";
import { refuse } from "../events/refuse.js";
import { EventSink } from "../events/sink.js";
import { DEFAULT_MODEL } from "../manifest.js";
import { podNameFor } from "../manifest-discovery.js";
import { hostSystem } from "../sandbox/system.js";
import { toolchainReads } from "../sandbox/toolchain.js";
import { eventWriter, manifestPath, resolveFormat, type GlobalOptions } from "./context.js";

export interface InitOptions extends GlobalOptions {
  name?: string;
  force?: boolean;
}

/**
 * `pod init [--name N]`: writes a commented pod.toml. Success talks to people on stderr
 * and leaves stdout empty; a refusal is one `error` line (invalid_input, exit 2), as for
 * every command, so a script sees why.
 */
export async function initCommand(opts: InitOptions): Promise<number> {
  const file = manifestPath(opts);
  const name = opts.name ?? defaultName(path.basename(path.dirname(file)));
  const fail = async (message: string, hint: string) => refuse(new EventSink(await eventWriter(resolveFormat(opts.format))), new PodError("invalid_input", `pod init: ${message}`, hint));
  if (!/^[a-z0-9_-]+$/.test(name)) {
    return fail(`--name ${JSON.stringify(name)} is not a valid pod name`, `use lowercase letters, digits, _ and -, e.g. --name ${defaultName(name)}`);
  }
  try {
    const dir = path.dirname(file);
    const names = new Set(await readdir(dir).catch(() => [] as string[]));
    await writeFile(file, starterManifest(name, await detectTestCommands(dir), await toolchainReads(names, hostSystem())), { flag: opts.force ? "w" : "wx" });
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === "EEXIST") return fail(`${file} already exists`, "edit it, or pass --force to overwrite it");
    return fail(`cannot write ${file}: ${(err as NodeJS.ErrnoException).code}`, "run pod init in a directory you can write to, or pass --manifest <file>");
  }
  const ignored = await ignoreRuntimeDir(path.dirname(file));
  process.stderr.write(`pod init: wrote ${file} (pod "${name}")${ignored ? `; ${ignored}` : ""}. Next: export ANTHROPIC_API_KEY=… and pod run "<task>"\n`);
  return EXIT.finished;
}

/** A directory name made into a valid pod name ("My App" → "my-app"). */
export const defaultName = podNameFor;

/**
 * Adds `.pod/` to the .gitignore beside pod.toml (creating the file if needed), so a
 * later `git add -A` does not commit sessions and status. Leaves the file alone when one
 * of its rules already ignores .pod/. Says what it did, or nothing.
 */
export async function ignoreRuntimeDir(dir: string): Promise<string | undefined> {
  const file = path.join(dir, ".gitignore");
  let text = "";
  try {
    text = await readFile(file, "utf8");
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== "ENOENT") return `could not read ${file} (${(err as NodeJS.ErrnoException).code}); add .pod/ to it yourself`;
  }
  if (ignore().add(text).ignores(".pod/")) return undefined;
  const sep = text === "" || text.endsWith("\n") ? "" : "\n";
  try {
    await appendFile(file, `${sep}# pod's runtime directory: sessions, status, recorded runs (docs/runtime.md)\n.pod/\n`);
  } catch (err) {
    return `could not add .pod/ to ${file} (${(err as NodeJS.ErrnoException).code}); add it yourself`;
  }
  return text === "" ? `wrote ${file} (ignores .pod/)` : `added .pod/ to ${file}`;
}

/**
 * The project's own test commands, as allow patterns, so `pod run "fix the failing
 * test"` can run them out of the box: package.json scripts (npm test, npm run
 * test:*), pytest, go test, cargo test. Found from the files present; nothing runs.
 */
export async function detectTestCommands(dir: string): Promise<string[]> {
  const names = new Set(await readdir(dir).catch(() => [] as string[]));
  const out: string[] = [];
  if (names.has("package.json")) {
    try {
      const pkg = JSON.parse(await readFile(path.join(dir, "package.json"), "utf8")) as { scripts?: Record<string, string>; devDependencies?: Record<string, string>; dependencies?: Record<string, string> };
      const scripts = Object.keys(pkg.scripts ?? {});
      if (scripts.includes("test")) out.push("npm test", "npm test -- *");
      for (const s of scripts) if (s !== "test" && /^test[:_-]/.test(s)) out.push(`npm run ${s}`);
      const deps = { ...pkg.dependencies, ...pkg.devDependencies };
      if ("vitest" in deps) out.push("npx vitest run *");
      if ("jest" in deps) out.push("npx jest *");
    } catch {
      // An unreadable package.json: no npm commands guessed.
    }
  }
  const python = ["pytest.ini", "pyproject.toml", "setup.cfg", "tox.ini", "conftest.py", "setup.py"].some((f) => names.has(f));
  if (python) out.push("pytest", "pytest *", "python -m pytest *");
  if (names.has("go.mod")) out.push("go test ./...", "go test *");
  if (names.has("Cargo.toml")) out.push("cargo test", "cargo test *");
  return out;
}

/**
 * The commented starter manifest `pod init` writes. `testCommands`: allow patterns for the project's own tests (src/commands/init.ts finds them);
 * `read`: the toolchain's paths outside the sandbox's system view (src/sandbox/toolchain.ts).
 */
export function starterManifest(name: string, testCommands: readonly string[] = [], read: readonly string[] = []): string {
  const bash = testCommands.length
    ? `enabled = true                    # runs inside the OS sandbox (bubblewrap on Linux): see docs/tools.md
allow = [${testCommands.map((c) => JSON.stringify(c)).join(", ")}]   # matched on the parsed command; a final * is one or more arguments`
    : `enabled = false                   # Bash is off unless enabled; it runs inside the OS sandbox (docs/tools.md)
allow = ["npm test"]              # matched on the parsed command; a final * is one or more arguments (e.g. "npx vitest run *")`;
  return `# pod manifest — every key is described in docs/manifest.md
[pod]
name = "${name}"                  # required; lowercase letters, digits, _ and -
model = "${DEFAULT_MODEL}"
# pod has a built-in system prompt for unattended coding (see it with \`pod prompt\`; docs/prompt.md).
# append_system_prompt = "Prefer small diffs."     # added after it
# system_prompt = "..."                            # replaces it (or system_prompt_file = "prompts/${name}.md")
# instructions = ["AGENTS.md", "CLAUDE.md"]         # project instruction files, git root down to here; [] = none
max_tokens = 8192                 # per model response
max_turns = 30                    # per run; the run ends with limit_reached (exit 11) after this many
# thinking = "adaptive"           # extended thinking: "off" (default), "adaptive", or a token budget below max_tokens
# max_cost_usd = 2.0              # per run budget in USD (exit 11 when reached); also --max-budget-usd
# timeout = "20m"                 # whole-run time limit (exit 11, pod left paused); also --timeout

# Without [scope] the pod has no file tools.
[scope]
root = "."                        # relative to this file; tools cannot reach outside it
# writable = ["src/**", "test/**"]  # default: all of root
deny = [".env*"]                  # neither readable nor writable (pod.toml, .git/ and .pod/ are protected anyway)

[tools]
ask = []                          # e.g. ["Write", "Bash"]: these pause the run for approval (exit 10)
# disabled = ["Write"]            # tools the model never sees

[tools.bash]
${bash}
timeout_s = 120
sandbox = "required"              # "off" runs commands unconfined: only where you trust every input
network = false                   # true, or allowed hosts: ["registry.npmjs.org"]
env = []                          # variables passed in besides PATH, HOME, LANG, TERM, TMPDIR, CI
${read.length ? `read = [${read.map((r) => JSON.stringify(r)).join(", ")}]   # the toolchain pod init found outside the system dirs; Bash sees it read-only` : '# read = ["~/.cache/ms-playwright"]   # host paths Bash may read besides the system dirs and the scope'}

[compaction]
threshold_tokens = 120000         # compact the session after a run when it is larger than this
keep_recent_turns = 4
`;
}
