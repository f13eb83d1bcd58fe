import { execFileSync } from "node:child_process";
import { cpSync, existsSync, mkdirSync, readFileSync, rmSync } from "node:fs";
import { mkdtemp, readFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { parse } from "yaml";
import { startFakeServer, type FakeServer } from "../fake-server/server.js";
import { makeProject, manifest, podEnv } from "../helpers/pod-process.js";
import { freshCheckout, runJob } from "./action-harness.js";

/**
 * The Action as a workflow gets it: `uses: acme/pod@main` downloads the repository at that
 * ref into <runner>/_actions/acme/pod/main (a tree without .git). From such a fresh copy of
 * this repository, every step of action.yml runs in the simulated runner — the install step
 * included: npm ci (the registry, as on GitHub's runners), the build, npm pack and an
 * offline install under $RUNNER_TEMP, then the install cache saved. A second job restores
 * that cache and builds nothing (the checkout's node_modules are gone by then), and
 * approves the first job's pause. Slow (npm ci), so once for the whole file.
 */
let actionPath: string;
let server: FakeServer;
let store: string;
let first: Awaited<ReturnType<typeof runJob>>;
let workspace: string;

beforeAll(async () => {
  const checkout = await freshCheckout();
  const runnerRoot = await mkdtemp(path.join(tmpdir(), "pod-runner-"));
  actionPath = path.join(runnerRoot, "_actions", "acme", "pod", "main");
  mkdirSync(path.dirname(actionPath), { recursive: true });
  cpSync(checkout, actionPath, { recursive: true });
  rmSync(checkout, { recursive: true, force: true });
  store = path.join(runnerRoot, "cache-store");
  server = await startFakeServer({
    turns: [
      { response: { content: [{ type: "tool_use", id: "toolu_w", name: "Write", input: { path: "out.txt", content: "from a fresh install\n" } }], stop_reason: "tool_use" } },
      { response: { content: [{ type: "text", text: "Done." }] } },
    ],
  });
  workspace = await makeProject(manifest({ extra: '\n[tools]\nask = ["Write"]\n' }));
  first = await runJob({ actionPath, workspace, inputs: { prompt: "write out.txt" }, runId: "42", job: "fix", cacheStore: store, artifacts: path.join(runnerRoot, "artifacts"), env: podEnv(server.url) as Record<string, string> });
}, 300_000);

afterAll(async () => {
  await server?.close();
});

describe("the Action from a fresh checkout", () => {
  it("builds and installs pod from its own checkout, caches the install, and runs it", () => {
    const byName = Object.fromEntries(first.steps.map((s) => [s.id ?? s.name, s]));
    expect(byName["install-cache"]!.outputs["cache-hit"]).toBe("false");
    expect(byName.install!.outcome).toBe("success");
    expect(byName.install!.outputs.built).toBe("true");
    expect(byName.install!.stdout).toContain("$ npm ci --ignore-scripts");
    expect(byName.install!.stdout).toContain("$ npm pack --json --ignore-scripts");
    expect(byName["Save pod's install"]!.outcome).toBe("success");
    const version = JSON.parse(readFileSync(path.join(actionPath, "package.json"), "utf8")).version;
    expect(byName.install!.outputs["pod-bin"]).toBe(path.join(first.runnerTemp, "pod-ci-agent", "lib", "node_modules", "pod-ci-agent", "dist", "pod.cjs"));
    // `pod` is on PATH for the job's later steps, and it is this checkout's version.
    const bin = path.join(first.path[0]!, "pod");
    expect(execFileSync(bin, ["--version"], { encoding: "utf8" }).trim()).toBe(version);
    expect(first.outputs).toMatchObject({ result: "paused", "exit-code": "10" });
    // The approval step it prints names the action as the workflow did.
    const approval = parse(/```yaml\n([\s\S]*?)```/.exec(first.summary)![1]!)[0];
    expect(approval.uses).toBe("acme/pod@main");
  });

  it("a later job restores the install from the cache, builds nothing, and approves the pause", async () => {
    // Nothing left to build from: a build would fail.
    rmSync(path.join(actionPath, "node_modules"), { recursive: true, force: true });
    rmSync(path.join(actionPath, "dist"), { recursive: true, force: true });
    const second = await runJob({ actionPath, workspace, inputs: { approve: "true" }, runId: "42", job: "approve", cacheStore: store, artifacts: path.join(path.dirname(store), "artifacts"), env: podEnv(server.url) as Record<string, string> });
    const install = second.steps.find((s) => s.id === "install")!;
    expect(second.steps.find((s) => s.id === "install-cache")!.outputs["cache-hit"]).toBe("true");
    expect(install.outputs.built).toBe("false");
    expect(install.stdout).toContain("pod from the cache");
    expect(second.steps.find((s) => s.name === "Save pod's install")!.outcome).toBe("skipped");
    expect(second.outputs).toMatchObject({ result: "finished", "session-id": first.outputs["session-id"], output: "Done." });
    expect(await readFile(path.join(workspace, "out.txt"), "utf8")).toBe("from a fresh install\n");
    expect(existsSync(path.join(actionPath, "node_modules"))).toBe(false);
    const ms = (r: typeof first, id: string) => r.steps.find((s) => s.id === id)?.ms;
    process.stderr.write(`install step: ${ms(first, "install")} ms built, ${ms(second, "install")} ms from the cache\n`);
  });
});
