// The walk reads directories synchronously in slices of a few ms, and between slices
// the event loop turns: Grep's workers' replies are read there (each worker holds at
// most two batches, so a turn that does not come leaves them idle), and a cancel lands
// there. Measured without a wall clock: performance.now() is replaced by a counter
// that moves 1 ms each time it is read, so "time" is the walk's own work and the test
// says the same on a loaded machine.
import { mkdirSync, writeFileSync } from "node:fs";
import path from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import { ScopedFs } from "../../src/tools/scoped-fs.js";
import { walkFiles } from "../../src/tools/walk.js";
import { sandbox } from "./helpers.js";

const realNow = performance.now.bind(performance);
afterEach(() => {
  performance.now = realNow;
});

describe("the walk yields to the event loop", () => {
  it("reads at most a slice's worth of directories between two turns, however many are in flight", async () => {
    const sb = await sandbox();
    // 40 × 40 directories of one file each: far more than the 16 read in parallel.
    for (let a = 0; a < 40; a++) {
      for (let b = 0; b < 40; b++) {
        const dir = path.join(sb.root, `d${a}`, `e${b}`);
        mkdirSync(dir, { recursive: true });
        writeFileSync(path.join(dir, "f.txt"), "x\n");
      }
    }
    const fs = new ScopedFs({ root: sb.root, deny: [], readOnly: [], hidden: [] });

    let fake = 0;
    performance.now = () => fake++;
    let sinceTurn = 0;
    let most = 0;
    let turns = 0;
    let walking = true;
    const turn = () => {
      most = Math.max(most, sinceTurn);
      sinceTurn = 0;
      turns++;
      if (walking) setImmediate(turn);
    };
    setImmediate(turn);
    let dirs = 0;
    await walkFiles(fs, sb.root, () => {
      dirs++;
      sinceTurn++;
    });
    walking = false;
    performance.now = realNow;
    most = Math.max(most, sinceTurn);

    expect(dirs).toBe(1600);
    // A slice is 5 ms: with the clock moving 1 ms a read, about 5 directories, plus
    // the (at most 16) visits that were waiting for the turn. Before the fix each of
    // those 16 started a slice of its own within one turn (48 directories here).
    expect(most).toBeLessThanOrEqual(30);
    expect(turns).toBeGreaterThan(1600 / 30);
  });
});
