import { DEFAULT_MODEL } from "../manifest.js";

// `pod init`'s pod.toml, beside the command that writes it (init.ts). The schema it must
// satisfy is src/manifest.ts; test/unit/init.test.ts parses every variant with it.

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
