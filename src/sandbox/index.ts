/**
 * src/sandbox/ — confined processes: everything pod starts on the model's behalf runs
 * through spawnConfined() (spawn.ts). Bash today; hooks, MCP stdio servers and pod's
 * own git next (issue 21). Data flows one way: a SandboxPolicy (policy.ts: plain
 * configuration — writable dirs, `read` paths, the protection policy's view, the
 * network) → a pure renderer (bwrap.ts: the bubblewrap argv; seatbelt.ts: the macOS
 * profile; seccomp.ts: the unix-socket filter) → the runner (spawn.ts: starts it,
 * ends its whole tree at the timeout, on cancel and when pod exits, cleans up).
 *
 * May import: node builtins, ../errors.js, ../env-config.js, and ../policy/ (the protection policy, a
 * leaf). Never src/tools/ or src/runtime/: they use this, not the other way.
 *
 * - spawn.ts        spawnConfined(), runConfined()
 * - confine.ts      confinementFor(): the policy of a hook or MCP server, from its manifest entry
 * - policy.ts       SandboxPolicy, commandEnv(), expandHome()
 * - system.ts       the system allowlist: what of the host is shown
 * - bwrap.ts        the bubblewrap argv (pure)
 * - seatbelt.ts     the Seatbelt profile (pure; untested on a Mac)
 * - seccomp.ts      the BPF filter that refuses unix sockets with network = true
 * - placeholders.ts the mount points bwrap makes for missing protected paths, removed after
 * - proxy.ts        the network allowlist's proxy and in-sandbox forwarder
 * - detect.ts       which sandbox can start here (probed once)
 * - output.ts       capped output collection
 * - hint.ts         the one-line hint naming the `read` entry that would show a hidden path
 */
export { spawnConfined, runConfined, KILL_GRACE_MS, type ConfineOptions, type ConfinedExit, type ConfinedProcess, type ConfinedRun } from "./spawn.js";
export { commandEnv, expandHome, CREDENTIAL_VARS, NOTHING_PROTECTED, SANDBOX_HOME, SANDBOX_TMP, type SandboxPolicy } from "./policy.js";
export { detectSandbox, sandboxForRun, type SandboxKind } from "./detect.js";
export { confinementFor, type ConfineSettings, type Confinement } from "./confine.js";
export { hiddenPathHint } from "./hint.js";
export { hostSystem, type HostSystem } from "./system.js";
