import { describe, expect, it } from "vitest";
import { diffstatOf, DIFFSTAT_MAX_BYTES, DIFFSTAT_MAX_FILES } from "../../src/runtime/diffstat.js";

/**
 * The recorded diffstat's bounds (src/runtime/diffstat.ts): past them nothing is counted and
 * the recording says why, so `pod report` can say "Lines not counted" with the reason (the
 * counting itself is checked against real git in test/e2e/report.test.ts).
 */
const stat = (size: number) => ({ kind: "file" as const, mode: 0o100644, size, mtimeMs: 0, ctimeMs: 0, ino: 1, nlink: 1 });

describe("the recorded diffstat's bounds", () => {
  it("records nothing without a comparison, and says why when the snapshot failed", async () => {
    expect(await diffstatOf(undefined)).toBeUndefined();
    expect(await diffstatOf({ fields: {} })).toEqual({ files: [], uncounted: [], skipped: "the scope's files could not be listed at the start of the run" });
  });

  it("counts no lines of more than DIFFSTAT_MAX_FILES files, or more than DIFFSTAT_MAX_BYTES of content, and says so", async () => {
    const many = Array.from({ length: DIFFSTAT_MAX_FILES + 1 }, (_, i) => ({ path: `f${i}`, change: "added" as const, after: stat(1) }));
    const tooMany = await diffstatOf({ fields: {}, changes: { files: many, truncated: false }, snapshot: {} as never });
    expect(tooMany).toEqual({ files: [], uncounted: [], skipped: `${DIFFSTAT_MAX_FILES + 1} files changed, more than the ${DIFFSTAT_MAX_FILES} pod counts lines of` });
    const big = [{ path: "big.bin", change: "modified" as const, before: { stat: stat(DIFFSTAT_MAX_BYTES) }, after: stat(1024 * 1024) }];
    const tooBig = await diffstatOf({ fields: {}, changes: { files: big, truncated: false }, snapshot: {} as never });
    expect(tooBig?.skipped).toMatch(/^the changed files hold 65 MiB, more than the 64 MiB pod counts lines of$/);
  });
});
