import { defineConfig } from "vitest/config";

/**
 * Most test files wait on child processes (pod, bwrap, git, a fake server's stream), not
 * on the CPU, so several run at once even on 2 cores: vitest's default there is ONE file
 * at a time (cores - 1). Each file runs in its own process (forks), so files share
 * nothing but the machine: temp dirs and ports are per test, and no test reads another's.
 *
 * Projects (npm test runs all; `npm run test:fast` only "fast"):
 * - fast: in-process tests (units, tools, the sandbox, the fake server) — the edit loop;
 * - e2e: everything that starts the built binary (npm test builds it first);
 * - alone: files that still time things on the wall clock, run after the rest with the
 *   machine to themselves (a test that needs this should say why here).
 */
const WORKERS = 4;

/** In-process: no built binary needed. */
const FAST = [
  "test/unit/**/*.test.ts",
  // The run loop in process (test/helpers/in-process.ts): the real SDK against the fake server, no binary.
  "test/runtime/**/*.test.ts",
  "test/tools/**/*.test.ts",
  "test/changes/**/*.test.ts",
  "test/review/**/*.test.ts",
  "test/fake-server.test.ts",
  "test/security/{cancel,diff-hardlink,hardlinks,hostile-inputs,protected-paths}.test.ts",
  "test/security/sandbox{,-*}.test.ts",
];

/**
 * grep-hostile proves Grep's deadline and a cancel's promptness, which are wall-clock
 * behaviours (a search stops at its 10 s deadline; pod exits within 2 s of SIGTERM); the
 * main thread's stalls are bounded in CPU time. It runs after the rest, with the machine
 * to itself, so that other files' processes do not stretch those waits.
 */
const ALONE = ["test/security/grep-hostile.test.ts"];

export default defineConfig({
  test: {
    // End-to-end tests spawn real processes; give them room on a loaded 2-core machine.
    testTimeout: 60_000,
    hookTimeout: 30_000,
    pool: "forks",
    env: { POD_VALIDATE_EVENTS: "1" },
    projects: [
      { extends: true, test: { name: "fast", include: FAST, exclude: ALONE, maxWorkers: WORKERS } },
      { extends: true, test: { name: "e2e", include: ["test/**/*.test.ts"], exclude: [...FAST, ...ALONE], maxWorkers: WORKERS } },
      { extends: true, test: { name: "alone", include: ALONE, maxWorkers: 1, sequence: { groupOrder: 1 } } },
    ],
  },
});
