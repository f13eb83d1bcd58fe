import { chmodSync, readFileSync } from "node:fs";
import { link, mkdir, mkdtemp, readFile, symlink, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import path from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import { startFakeServer, type FakeServer } from "../fake-server/server.js";
import { makeProject, manifest, ofType, POD_BIN, podEnv, REPO_ROOT, runPod } from "../helpers/pod-process.js";
import { runToEnd } from "../helpers/spawn.js";
import { call, textTurn, toolsTurn, usage } from "../helpers/turns.js";

/**
 * Issue 23, item 3: run_end.denials lists every tool call the boundary or a person refused
 * (scope, deny, protection, writable, the Bash allowlist, a missing sandbox, a hook, an
 * approval) with its id, tool and reason, and [] when none; an ordinary tool error (a
 * missing file, old_string not found) is not a denial. --fail-on-denial exits 1 when any
 * call was denied, with the result unchanged.
 */
let server: FakeServer | undefined;
afterEach(async () => {
  await server?.close();
  server = undefined;
});

// The shared turn builders (test/helpers/turns.ts), with the usage every turn here reports.
const calls = (...blocks: object[]) => toolsTurn(blocks, { usage: usage() });
const use = call;
const done = textTurn("Done what I could.", { usage: usage() });

const MANIFEST = manifest({
  extra: [
    "writable = [\"src/**\"]",
    "deny = [\".env*\", \".pod/**\"]",
    "",
    "[tools.bash]",
    "enabled = true",
    'allow = ["echo *"]',
    "",
    "[[hooks.pre_tool_use]]",
    'matcher = "Grep"',
    'command = "sh hooks/no-grep.sh"',
  ].join("\n"),
}).replace('deny = [".pod/**"]\n', "");

const FILES = {
  "src/app.ts": "export const answer = 42;\n",
  ".env": "TOKEN=do-not-read\n",
  "notes.txt": "not writable\n",
  "hooks/no-grep.sh": '#!/bin/sh\ncat > /dev/null\necho "no searching in this repo" >&2\nexit 2\n',
};

async function project(extraFiles: Record<string, string> = {}) {
  const dir = await makeProject(MANIFEST, { ...FILES, ...extraFiles });
  // A file outside the scope, reached through a symlink inside it.
  const outside = await mkdtemp(path.join(tmpdir(), "pod-outside-"));
  await writeFile(path.join(outside, "secret.txt"), "outside\n");
  await symlink(outside, path.join(dir, "src/elsewhere"));
  // A hardlink inside a writable directory to the pod's own manifest.
  await link(path.join(dir, "pod.toml"), path.join(dir, "src/manifest-link.toml"));
  return dir;
}

const EVERY_KIND = calls(
  use("d_scope", "Read", { path: "../outside.txt" }),
  use("d_link", "Read", { path: "src/elsewhere/secret.txt" }),
  use("d_deny", "Read", { path: ".env" }),
  use("d_protect", "Write", { path: "pod.toml", content: "[pod]\n" }),
  use("d_hardlink", "Write", { path: "src/manifest-link.toml", content: "[pod]\n" }),
  use("d_writable", "Write", { path: "notes.txt", content: "mine now\n" }),
  use("d_allow", "Bash", { command: "rm -rf src" }),
  use("d_hook", "Grep", { pattern: "answer" }),
  // Ordinary failures: not denials.
  use("e_missing", "Read", { path: "src/missing.ts" }),
  use("e_read", "Read", { path: "src/app.ts" }),
  use("e_edit", "Edit", { path: "src/app.ts", old_string: "not in the file", new_string: "x" }),
  use("e_glob", "Glob", { pattern: "**/*.ts", path: "src/app.ts" }),
);

describe("run_end.denials", () => {
  it("lists every refusal by kind, in order, with id, tool and reason; ordinary tool errors are not in it", async () => {
    server = await startFakeServer({ turns: [EVERY_KIND, done] });
    const dir = await project();
    const r = await runPod(["run", "try everything"], { cwd: dir, env: podEnv(server.url) });
    expect(r.code).toBe(0);
    expect(server.mismatches).toEqual([]);
    const end = r.events.at(-1);
    expect(end).toMatchObject({ type: "run_end", result: "finished" });
    expect(end.denials).toEqual([
      { id: "d_scope", tool: "Read", reason: expect.stringMatching(/^\.\.\/outside\.txt is outside the workspace/) },
      // (The boundary's own words, from src/tools/scoped-fs.ts; only their gist is pinned here.)
      { id: "d_link", tool: "Read", reason: expect.stringMatching(/^src\/elsewhere\/secret\.txt leads outside the workspace/) },
      { id: "d_deny", tool: "Read", reason: expect.stringMatching(/^\.env is denied/) },
      { id: "d_protect", tool: "Write", reason: expect.stringMatching(/^pod\.toml is the pod's manifest/) },
      { id: "d_hardlink", tool: "Write", reason: expect.stringMatching(/^src\/manifest-link\.toml is a hardlink to a protected file/) },
      { id: "d_writable", tool: "Write", reason: expect.stringMatching(/^notes\.txt is not writable/) },
      { id: "d_allow", tool: "Bash", reason: "Command not allowed: rm -rf src" },
      { id: "d_hook", tool: "Grep", reason: "Blocked by a pre_tool_use hook: no searching in this repo" },
    ]);
    // Every one of them, and the ordinary failures, went to the model as errors.
    const results = Object.fromEntries(ofType(r.events, "tool_result").map((e) => [e.id, e]));
    for (const id of ["d_scope", "d_link", "d_deny", "d_protect", "d_hardlink", "d_writable", "d_allow", "d_hook", "e_missing", "e_edit", "e_glob"]) expect(results[id].is_error, id).toBe(true);
    expect(results.e_read.is_error).toBe(false);
    expect(await readFile(path.join(dir, "notes.txt"), "utf8")).toBe("not writable\n");
  });

  it("is [] when nothing was refused, even with tool errors", async () => {
    server = await startFakeServer({ turns: [calls(use("e1", "Read", { path: "src/missing.ts" })), done] });
    const dir = await project();
    const r = await runPod(["run", "read a missing file"], { cwd: dir, env: podEnv(server.url) });
    expect(r.code).toBe(0);
    expect(ofType(r.events, "tool_result")[0].is_error).toBe(true);
    expect(r.events.at(-1).denials).toEqual([]);
  });

  it("a missing sandbox: every Bash call is a denial (sandbox_unavailable), so a green job cannot hide it", async () => {
    server = await startFakeServer({ turns: [calls(use("b1", "Bash", { command: "echo running the tests" })), done] });
    const dir = await project();
    const r = await runPod(["run", "run the tests"], { cwd: dir, env: podEnv(server.url, { POD_BWRAP: "/nonexistent/bwrap" }) });
    expect(r.code).toBe(0);
    expect(r.events.at(-1).denials).toEqual([{ id: "b1", tool: "Bash", reason: expect.stringMatching(/^sandbox_unavailable: Bash needs an OS sandbox and bubblewrap \(bwrap\) is not installed/) }]);
  });
});

describe("--fail-on-denial", () => {
  it("exits 1 when any call was denied; the result stays what it was; stderr says why", async () => {
    server = await startFakeServer({ turns: [calls(use("d1", "Write", { path: "notes.txt", content: "x" })), done] });
    const dir = await project();
    const r = await runPod(["run", "--fail-on-denial", "write notes"], { cwd: dir, env: podEnv(server.url) });
    expect(r.code).toBe(1);
    expect(r.events.at(-1)).toMatchObject({ type: "run_end", result: "finished", denials: [{ id: "d1", tool: "Write" }] });
    expect(ofType(r.events, "error")).toEqual([]);
    expect(r.stderr).toContain("pod: exit 1 (--fail-on-denial): 1 tool call was denied; run_end.denials lists them");
    const status = JSON.parse(await readFile(path.join(dir, ".pod/tester/status.json"), "utf8"));
    expect(status).toMatchObject({ status: "idle", last_result: "finished" });
  });

  it("exits 0 when nothing was denied", async () => {
    server = await startFakeServer({ turns: [calls(use("ok1", "Read", { path: "src/app.ts" })), done] });
    const dir = await project();
    const r = await runPod(["run", "--fail-on-denial", "read it"], { cwd: dir, env: podEnv(server.url) });
    expect(r.code).toBe(0);
    expect(r.events.at(-1).denials).toEqual([]);
  });

  it("applies to pod resume: a person's --deny fails the job", async () => {
    server = await startFakeServer({ turns: [calls(use("g1", "Write", { path: "src/new.ts", content: "x\n" })), done] });
    const dir = await makeProject(MANIFEST.replace("[tools.bash]", '[tools]\nask = ["Write"]\n\n[tools.bash]'), FILES);
    const env = podEnv(server.url);
    expect((await runPod(["run", "write it"], { cwd: dir, env })).code).toBe(10);
    const r = await runPod(["resume", "--deny", "not now", "--fail-on-denial"], { cwd: dir, env });
    expect(r.code).toBe(1);
    expect(r.events.at(-1)).toMatchObject({ result: "finished", denials: [{ id: "g1", tool: "Write", reason: "A person denied this Write call: not now" }] });
  });
});

describe("docs/ci.md's way of failing a job on denials", () => {
  /** The shell block under "Failing the job when something was refused", run as written with `pod` on PATH. */
  async function runDocBlock(turns: object[]) {
    const doc = readFileSync(path.join(REPO_ROOT, "docs/ci.md"), "utf8");
    const section = doc.slice(doc.indexOf("## Failing the job when something was refused"));
    const code = section.match(/```sh\n([\s\S]*?)```/)![1]!;
    server = await startFakeServer({ turns });
    const dir = await project();
    const bin = path.join(dir, "bin");
    await mkdir(bin);
    await writeFile(path.join(bin, "pod"), `#!/bin/sh\nexec "${process.execPath}" "${POD_BIN}" "$@"\n`);
    chmodSync(path.join(bin, "pod"), 0o755);
    return runToEnd("bash", ["-c", code], { cwd: dir, env: podEnv(server.url, { PATH: `${bin}:${process.env.PATH}` }) as NodeJS.ProcessEnv });
  }

  it("fails the job and names the refused call", async () => {
    const r = await runDocBlock([calls(use("d1", "Write", { path: "notes.txt", content: "x" })), done]);
    expect(r.code).toBe(1);
    expect(r.stdout).toContain("pod was refused:\n  Write d1: notes.txt is not writable");
  });

  it("passes a run without denials", async () => {
    const r = await runDocBlock([calls(use("ok1", "Read", { path: "src/app.ts" })), done]);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).not.toContain("pod was refused");
  });
});
