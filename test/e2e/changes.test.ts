import { execFileSync, spawn } from "node:child_process";
import { cpSync, lstatSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, readlinkSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import { startFakeServer, type FakeServer } from "../fake-server/server.js";
import { makeProject, manifest, ofType, podEnv, POD_BIN, runPod } from "../helpers/pod-process.js";
// @ts-expect-error: a plain .mjs fixture (it is also run as a process)
import { startHttpMcpServer } from "../fixtures/mcp/server.mjs";

/**
 * run_end.files_changed and --diff (issue 25), end to end: the built binary runs a
 * scripted model that changes the scope with every kind of tool — Edit, Write, and
 * sandboxed Bash (rm, cp of a binary file, chmod) — then the patch is applied with
 * `git apply` to a pristine copy of the tree as it was, which must then equal the
 * worked tree file for file, byte for byte and mode for mode.
 */
const usage = { input_tokens: 100, output_tokens: 20, cache_read_input_tokens: 0, cache_creation_input_tokens: 0 };
const toolTurn = (id: string, name: string, input: object, after?: string) => ({
  ...(after ? { expect: { tool_result_for: after } } : {}),
  response: { content: [{ type: "tool_use", id, name, input }], stop_reason: "tool_use", usage },
});
const textTurn = (text: string, after: string) => ({ expect: { tool_result_for: after }, response: { content: [{ type: "text", text }], stop_reason: "end_turn", usage } });

let server: FakeServer | undefined;
afterEach(async () => {
  await server?.close();
  server = undefined;
});

/** A real binary file (a PNG's signature and header, then bytes with NULs): git would call it binary. */
const BINARY = Buffer.concat([Buffer.from("89504e470d0a1a0a0000000d49484452", "hex"), Buffer.from(Array.from({ length: 600 }, (_, i) => (i * 37) % 256))]);

const FILES: Record<string, string> = {
  ".gitignore": ".pod/\n*.log\n",
  "src/app.js": "export function add(a, b) {\n  return a - b;\n}\n",
  "old.txt": "to be removed\n",
  "tools/run.sh": "#!/bin/sh\necho run\n",
  "README.md": "unchanged\n",
};

/** Edit, Write, and Bash's rm, cp (a binary), chmod, and a file .gitignore ignores. */
const editingTurns = () => [
  toolTurn("t1", "Read", { path: "src/app.js" }),
  toolTurn("t2", "Edit", { path: "src/app.js", old_string: "a - b", new_string: "a + b" }, "t1"),
  toolTurn("t3", "Write", { path: "notes/new file.md", content: "# Notes\nwritten by the model\n" }, "t2"),
  toolTurn("t4", "Bash", { command: "rm old.txt" }, "t3"),
  toolTurn("t5", "Bash", { command: "cp fixtures/logo.bin logo-copy.bin" }, "t4"),
  toolTurn("t6", "Bash", { command: "chmod +x tools/run.sh" }, "t5"),
  toolTurn("t7", "Bash", { command: "cp src/app.js build.log" }, "t6"),
  textTurn("Done.", "t7"),
];

const bashManifest = manifest({ extra: '\n[tools.bash]\nenabled = true\nallow = ["rm *", "cp *", "chmod *"]\n' });

const EXPECTED = [
  { path: "logo-copy.bin", change: "added" },
  { path: "notes/new file.md", change: "added" },
  { path: "old.txt", change: "deleted" },
  { path: "src/app.js", change: "modified" },
  { path: "tools/run.sh", change: "modified" },
];

async function project(withGit: boolean): Promise<string> {
  const dir = await makeProject(bashManifest, FILES);
  mkdirSync(path.join(dir, "fixtures"));
  writeFileSync(path.join(dir, "fixtures/logo.bin"), BINARY);
  if (withGit) {
    const git = (...a: string[]) => execFileSync("git", ["-c", "user.email=t@t", "-c", "user.name=t", ...a], { cwd: dir, stdio: "pipe" });
    git("init", "-q");
    git("add", "-A");
    git("commit", "-qm", "before");
  }
  return dir;
}

/** Every file under `dir` (but .git/ and .pod/) with its bytes (a link: its target) and mode. */
function tree(dir: string): Map<string, { mode: string; data: string }> {
  const out = new Map<string, { mode: string; data: string }>();
  const walk = (rel: string) => {
    for (const e of readdirSync(path.join(dir, rel), { withFileTypes: true })) {
      const r = rel ? `${rel}/${e.name}` : e.name;
      if (r === ".git" || r === ".pod") continue;
      const abs = path.join(dir, r);
      const st = lstatSync(abs);
      if (e.isDirectory()) walk(r);
      else out.set(r, { mode: (st.mode & 0o170777).toString(8), data: e.isSymbolicLink() ? `-> ${readlinkSync(abs)}` : readFileSync(abs).toString("base64") });
    }
  };
  walk("");
  return out;
}

describe("files_changed and --diff", () => {
  for (const withGit of [true, false]) {
    it(`${withGit ? "a git checkout" : "no git (the bounded walk)"}: lists exactly what Edit, Write and Bash changed, and git apply of --diff on a pristine copy gives the same tree`, async () => {
      const dir = await project(withGit);
      const pristine = mkdtempSync(path.join(tmpdir(), "pod-pristine-"));
      cpSync(dir, pristine, { recursive: true, verbatimSymlinks: true, preserveTimestamps: true });
      const out = mkdtempSync(path.join(tmpdir(), "pod-diff-out-"));
      const diffFile = path.join(out, "changes.diff");

      server = await startFakeServer({ turns: editingTurns() });
      const r = await runPod(["run", "fix add and tidy up", "--diff", diffFile], { cwd: dir, env: podEnv(server.url) });
      expect(server.mismatches).toEqual([]);
      const results = ofType(r.events, "tool_result");
      expect(results.filter((e) => e.is_error), r.stderr).toEqual([]);
      expect(r.code, r.stderr).toBe(0);
      const end = r.events.at(-1);
      expect(end.type).toBe("run_end");
      expect(end.files_changed).toEqual(EXPECTED);
      expect(end.files_changed_truncated).toBeUndefined();

      const patch = readFileSync(diffFile);
      const text = patch.toString("latin1");
      // The parts git apply needs to recreate each change exactly.
      expect(text).toContain("diff --git a/logo-copy.bin b/logo-copy.bin\nnew file mode 100644\n");
      expect(text).toContain("GIT binary patch\nliteral 616\n");
      expect(text).toContain("diff --git a/tools/run.sh b/tools/run.sh\nold mode 100644\nnew mode 100755\n");
      expect(text).toContain("diff --git a/old.txt b/old.txt\ndeleted file mode 100644\n");
      expect(text).toContain("+++ b/notes/new file.md\t\n");
      expect(text).toContain("-  return a - b;\n+  return a + b;\n");
      expect(text).not.toContain("build.log");

      execFileSync("git", ["apply", "--check", diffFile], { cwd: pristine });
      // The recording's diffstat (pod report's) counts the same patch: git's own numstat of it.
      const numstat = execFileSync("git", ["apply", "--numstat", diffFile], { cwd: pristine, encoding: "utf8" })
        .trim()
        .split("\n")
        .map((l) => l.split("\t"))
        .map(([added, removed, ...file]) => [file.join("\t"), added === "-" ? null : Number(added), removed === "-" ? null : Number(removed)]);
      const recorded = JSON.parse(readFileSync(path.join(dir, ".pod/tester/runs", r.events[0].run_id, "run.json"), "utf8")).diffstat;
      expect(recorded.files.map((f: any) => [f.path, f.added, f.removed]).sort()).toEqual(numstat.sort());
      execFileSync("git", ["apply", diffFile], { cwd: pristine });
      const worked = tree(dir);
      // build.log is ignored (*.log): not a change the patch carries, by design (docs/changes.md).
      expect(worked.has("build.log")).toBe(true);
      worked.delete("build.log");
      expect(tree(pristine)).toEqual(worked);
    });
  }

  it("a file an MCP server writes is a change too: files_changed comes from the scope, not from pod's own tools", async () => {
    const mcp = await startHttpMcpServer();
    try {
      const dir = await project(true);
      const target = path.join(dir, "src/generated.js");
      server = await startFakeServer({ turns: [toolTurn("m1", "mcp__gen__write", { path: target, text: "export const x = 1;\n" }), textTurn("Generated.", "m1")] });
      const withMcp = manifest({ extra: `\n[mcp.gen]\nurl = "${mcp.url}"\nrequired = true\n` });
      writeFileSync(path.join(dir, "pod.toml"), withMcp);
      execFileSync("git", ["-c", "user.email=t@t", "-c", "user.name=t", "commit", "-qam", "mcp"], { cwd: dir });
      const r = await runPod(["run", "generate"], { cwd: dir, env: podEnv(server.url) });
      expect(r.code, r.stderr).toBe(0);
      expect(ofType(r.events, "tool_result")).toMatchObject([{ name: "mcp__gen__write", is_error: false }]);
      expect(r.events.at(-1).files_changed).toEqual([{ path: "src/generated.js", change: "added" }]);
    } finally {
      await mcp.close();
    }
  });

  it("a run that changes nothing: files_changed is [] and --diff writes an empty file", async () => {
    const dir = await project(true);
    const out = mkdtempSync(path.join(tmpdir(), "pod-diff-out-"));
    server = await startFakeServer({ turns: [toolTurn("t1", "Read", { path: "src/app.js" }), textTurn("Looks fine.", "t1")] });
    const r = await runPod(["run", "look", "--diff", path.join(out, "d.patch")], { cwd: dir, env: podEnv(server.url) });
    expect(r.code, r.stderr).toBe(0);
    expect(r.events.at(-1).files_changed).toEqual([]);
    expect(readFileSync(path.join(out, "d.patch"), "utf8")).toBe("");
  });

  it("pod's own stdout and stderr, redirected into the scope (`pod run … > events.jsonl`), are not the run's changes", async () => {
    const dir = await project(true);
    const out = mkdtempSync(path.join(tmpdir(), "pod-diff-out-"));
    server = await startFakeServer({ turns: [toolTurn("t1", "Read", { path: "src/app.js" }), textTurn("Looks fine.", "t1")] });
    const patch = path.join(out, "d.patch");
    // A shell's redirection: the files exist (empty) before pod starts, and pod writes into them.
    // Asynchronously: the fake server answers from this process.
    const code = await new Promise<number | null>((resolve) =>
      spawn("sh", ["-c", `node "$POD" run look --diff "$PATCH" > events.jsonl 2> pod.log`], { cwd: dir, env: { ...podEnv(server!.url), POD: POD_BIN, PATCH: patch } as NodeJS.ProcessEnv }).on("close", resolve),
    );
    expect(code, readFileSync(path.join(dir, "pod.log"), "utf8")).toBe(0);
    const end = readFileSync(path.join(dir, "events.jsonl"), "utf8").trim().split("\n").map((l) => JSON.parse(l)).at(-1);
    expect(end.type).toBe("run_end");
    expect(end.files_changed).toEqual([]);
    expect(readFileSync(patch, "utf8")).toBe("");
  });

  it("without [scope] there is no files_changed, and --diff is a usage error (exit 2) before anything runs", async () => {
    server = await startFakeServer({ turns: [{ response: { content: [{ type: "text", text: "hi" }], stop_reason: "end_turn", usage } }] });
    const dir = await makeProject(manifest({ scope: false }));
    const plain = await runPod(["run", "hi"], { cwd: dir, env: podEnv(server.url) });
    expect(plain.code).toBe(0);
    expect(plain.events.at(-1)).not.toHaveProperty("files_changed");
    const r = await runPod(["run", "hi", "--diff", path.join(dir, "d.patch")], { cwd: dir, env: podEnv(server.url) });
    expect(r.code).toBe(2);
    expect(r.events).toEqual([expect.objectContaining({ type: "error", code: "invalid_input", message: expect.stringContaining("--diff needs a [scope]") })]);
    expect(server.requests).toHaveLength(1);
  });
});
