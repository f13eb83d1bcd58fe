import { existsSync, mkdirSync, readdirSync, readFileSync, symlinkSync, writeFileSync } from "node:fs";
import { mkdtemp } from "node:fs/promises";
import { tmpdir } from "node:os";
import path from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import { startFakeServer, type FakeServer } from "../fake-server/server.js";
import { makeProject, manifest, REPO_ROOT } from "../helpers/pod-process.js";
import { actionRunner, filesUnder, type Job } from "../e2e/action-harness.js";

/**
 * SPEC Containment: "the Action writes its files outside the workspace and never follows a
 * link the model made" (issue 21 item 5). The Action used to append pod's stdout to
 * `pod-events.jsonl` in the workspace, reopening it by name for every chunk: a symlink
 * there — committed by a pull request, or made by the model's Bash during the run — sent
 * the events (model text included) into any file the runner user can write. Both attacks
 * below appended to the outside file with that Action; now the events go to the step's own
 * directory under $RUNNER_TEMP, and a workflow's `events-file` copy is written after pod
 * exited, as a fresh file, through no link.
 */
let server: FakeServer | undefined;
/** The Action's checkout and install cache, made once for this file (action-harness.ts). */
const runner = actionRunner(() => server!.url);

afterEach(async () => {
  await server?.close();
  server = undefined;
});

const job = (workspace: string, inputs: Record<string, string>, over: Partial<Job> = {}) => runner.job({ workspace, inputs, ...over });

/** A place outside the workspace the runner user can write: what a link would aim at. */
async function outside() {
  const dir = await mkdtemp(path.join(tmpdir(), "pod-outside-"));
  writeFileSync(path.join(dir, "target"), "ORIGINAL\n");
  mkdirSync(path.join(dir, "dir"));
  return dir;
}

const untouched = (out: string) => {
  expect(readFileSync(path.join(out, "target"), "utf8")).toBe("ORIGINAL\n");
  expect(readdirSync(path.join(out, "dir"))).toEqual([]);
};

describe("the Action's files", () => {
  it("a symlink committed to the workspace (a pull request can) receives nothing", async () => {
    server = await startFakeServer({ turns: [{ response: { content: [{ type: "text", text: "hi" }] } }, { response: { content: [{ type: "text", text: "hi" }] } }, { response: { content: [{ type: "text", text: "hi" }] } }] });
    const out = await outside();
    const dir = await makeProject(manifest());
    symlinkSync(path.join(out, "target"), path.join(dir, "pod-events.jsonl"));
    symlinkSync(path.join(out, "dir"), path.join(dir, "reports"));

    const plain = await job(dir, { prompt: "hi" });
    expect(plain.outputs.result).toBe("finished");
    // Nothing of the Action's in the workspace: events and runtime dir are under $RUNNER_TEMP.
    expect(plain.outputs["events-file"]!.startsWith(plain.runnerTemp)).toBe(true);
    expect(plain.outputs["runtime-dir"]!.startsWith(plain.runnerTemp)).toBe(true);
    expect(filesUnder(dir).sort()).toEqual(["pod-events.jsonl", "pod.toml", "reports"]);
    untouched(out);

    // A workflow that names the linked path gets a warning, not a write through the link.
    for (const eventsFile of ["pod-events.jsonl", "reports/events.jsonl"]) {
      const r = await job(dir, { prompt: "hi", "events-file": eventsFile, "new-session": "true" });
      expect(r.outputs.result).toBe("finished");
      expect(r.processed.find((p) => p.command === "warning")!.data).toMatch(/symbolic link inside the workspace|already exists/);
      untouched(out);
    }
  });

  it("a symlink the model makes with Bash during the run receives nothing", async () => {
    const out = await outside();
    server = await startFakeServer({
      turns: [
        {
          response: {
            content: [{ type: "tool_use", id: "toolu_ln", name: "Bash", input: { command: `ln -sf ${path.join(out, "target")} pod-events.jsonl` } }],
            stop_reason: "tool_use",
          },
        },
        { response: { content: [{ type: "tool_use", id: "toolu_ln2", name: "Bash", input: { command: `ln -sfn ${path.join(out, "dir")} reports` } }], stop_reason: "tool_use" } },
        { response: { content: [{ type: "text", text: "links made" }] } },
      ],
    });
    const dir = await makeProject(manifest({ extra: '\n[tools.bash]\nenabled = true\nallow = ["ln -sf *", "ln -sfn *"]\n' }));
    const r = await job(dir, { prompt: "make links", "events-file": "pod-events.jsonl" });
    expect(r.outputs.result).toBe("finished");
    // The model did make them (the sandbox lets Bash write in the workspace)...
    expect(existsSync(path.join(dir, "pod-events.jsonl"))).toBe(true);
    expect(readdirSync(dir)).toContain("reports");
    // ...and they led nowhere.
    untouched(out);
    expect(r.processed.find((p) => p.command === "warning")!.data).toMatch(/pod-events\.jsonl/);
    const events = readFileSync(r.outputs["events-file"]!, "utf8");
    expect(events).toContain('"type":"run_end"');
  });
});
