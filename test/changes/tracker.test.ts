import { mkdirSync, mkdtempSync, realpathSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { setImmediate as turn } from "node:timers/promises";
import { describe, expect, it } from "vitest";
import { compareScope } from "../../src/changes/compare.js";
import { trackChanges } from "../../src/changes/index.js";
import { takeSnapshot } from "../../src/changes/snapshot.js";
import type { Tool } from "../../src/tools/types.js";

/**
 * When the tracker looks at the scope (src/changes/index.ts, docs/changes.md "When pod
 * looks"): the snapshot once a request is out, and the comparison ahead of the end while
 * the model answers. What must hold whatever the timing: a change made by anything pod
 * runs for the model after a look is in files_changed.
 */
function tree(n: number): string {
  const dir = realpathSync(mkdtempSync(path.join(tmpdir(), "pod-tracker-")));
  for (let i = 0; i < n; i++) {
    mkdirSync(path.join(dir, `d${i % 50}`), { recursive: true });
    writeFileSync(path.join(dir, `d${i % 50}`, `f${i}.txt`), `file ${i}\n`);
  }
  return dir;
}

const track = (dir: string) => trackChanges({ root: dir, deny: [], runtimeDir: path.join(dir, ".pod"), manifestFile: path.join(dir, "pod.toml") });

/** A tool that does `act` when called, gated by the tracker as the run's tools are. */
function gatedTool(tracker: ReturnType<typeof track>, act: () => void): Tool {
  const tool = { name: "Act", description: "", inputSchema: {} as never, run: async () => (act(), { output: "", isError: false, truncated: false }) };
  return tracker.gate({ tools: [tool as unknown as Tool], touchedFiles: () => ({ read: [], written: [] }) })!.tools[0]!;
}

const ctx = () => ({ signal: new AbortController().signal });

/** Until the tracker's background work has run out (it works in slices between event-loop turns). */
async function settle(): Promise<void> {
  for (let i = 0; i < 200; i++) await turn();
}

describe("the tracker looks while the model thinks, and never misses a change made after a look", () => {
  it("a tool that runs after the comparison ahead of time was done: that comparison is stale, its change is listed", async () => {
    const dir = tree(20);
    const tracker = track(dir);
    tracker.modelAsked();
    await settle(); // snapshot, then the comparison ahead (nothing changed yet)
    await gatedTool(tracker, () => writeFileSync(path.join(dir, "d1/f1.txt"), "edited\n")).run({}, ctx());
    // The next request goes out; the run ends before the new comparison could even start.
    const r = await tracker.finish();
    expect(r.fields.files_changed).toEqual([{ path: "d1/f1.txt", change: "modified" }]);
  });

  it("a tool that starts while the comparison ahead is still running: that one is given up, and the comparison at the end lists the change", async () => {
    const dir = tree(4000);
    const tracker = track(dir);
    const write = gatedTool(tracker, () => writeFileSync(path.join(dir, "new.txt"), "new\n"));
    // The snapshot first (the tool waits for it), then a request, then a tool call at once.
    await gatedTool(tracker, () => {}).run({}, ctx());
    tracker.modelAsked();
    await turn();
    await write.run({}, ctx());
    const r = await tracker.finish();
    expect(r.fields.files_changed).toEqual([{ path: "new.txt", change: "added" }]);
  });

  it("a stop hook that writes after the model's last answer: listed (the comparison is made after it)", async () => {
    const dir = tree(20);
    const tracker = track(dir);
    const write = gatedTool(tracker, () => writeFileSync(path.join(dir, "d2/f2.txt"), "by the tool\n"));
    await write.run({}, ctx());
    tracker.modelAsked();
    await settle();
    const onStop = tracker.gateStop(async (_signal: AbortSignal) => (writeFileSync(path.join(dir, "formatted.txt"), "by the hook\n"), undefined))!;
    await onStop(new AbortController().signal);
    const r = await tracker.finish();
    expect(r.fields.files_changed).toEqual([
      { path: "d2/f2.txt", change: "modified" },
      { path: "formatted.txt", change: "added" },
    ]);
  });

  it("the comparison ahead, when nothing ran after it, is the answer: a change made outside the run afterwards is not the run's", async () => {
    const dir = tree(20);
    const tracker = track(dir);
    await gatedTool(tracker, () => writeFileSync(path.join(dir, "d3/f3.txt"), "by the tool\n")).run({}, ctx());
    tracker.modelAsked();
    await settle();
    // Not something pod ran for the model (another step of the CI job, say): after the last tool, while the model answered.
    writeFileSync(path.join(dir, "other.txt"), "someone else\n");
    const r = await tracker.finish();
    expect(r.fields.files_changed).toEqual([{ path: "d3/f3.txt", change: "modified" }]);
  });

  it("the snapshot waits for the first request, or for the first tool: a file changed before either is not the run's", async () => {
    const dir = tree(20);
    const tracker = track(dir);
    // pod starting up (MCP servers starting, the lock, the session): before any request.
    writeFileSync(path.join(dir, "d4/f4.txt"), "before the run's first request\n");
    await gatedTool(tracker, () => writeFileSync(path.join(dir, "d5/f5.txt"), "by the tool\n")).run({}, ctx());
    const r = await tracker.finish();
    expect(r.fields.files_changed).toEqual([{ path: "d5/f5.txt", change: "modified" }]);
  });
});

describe("compareScope's abandoned question", () => {
  it("asked at every pause: true gives up (undefined), false gives the same answer as without it", async () => {
    const dir = tree(4000);
    const snap = await takeSnapshot({ root: dir, deny: [], hidden: [] });
    writeFileSync(path.join(dir, "d7/f7.txt"), "edited\n");
    let asked = 0;
    expect(await compareScope(snap, { abandoned: () => (asked++, true) })).toBeUndefined();
    expect(asked).toBe(1);
    const kept = await compareScope(snap, { abandoned: () => false });
    expect(kept).toEqual(await compareScope(snap));
    expect(kept!.files.map((f) => f.path)).toEqual(["d7/f7.txt"]);
  });
});
