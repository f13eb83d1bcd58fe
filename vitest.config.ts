import { defineConfig } from "vitest/config";

export default defineConfig({
  test: {
    include: ["test/**/*.test.ts"],
    // End-to-end tests spawn real processes; give them room on a loaded 2-core machine.
    testTimeout: 60_000,
    hookTimeout: 30_000,
    pool: "forks",
    env: { POD_VALIDATE_EVENTS: "1" },
  },
});
