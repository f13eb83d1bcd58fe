import { execFileSync } from "node:child_process";
import { mkdir, mkdtemp, readFile, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import path from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import { startFakeServer, type FakeServer } from "../fake-server/server.js";
import { makeProject, manifest, ofType, podEnv, POD_BIN, runPod } from "../helpers/pod-process.js";
import { runToEnd } from "../helpers/spawn.js";

/** pod with stdout as it is: json and text are not event lines, so runPod's schema check does not apply. */
async function raw(args: string[], cwd: string, env: Record<string, string | undefined>) {
  return runToEnd(process.execPath, [POD_BIN, ...args], { cwd, env: env as NodeJS.ProcessEnv });
}

/**
 * What someone adding pod to a pipeline for the first time expects to just work (issue
 * 27 item 5): no pod.toml needed, the manifest found from a subdirectory, the answer
 * alone (--format text) or one result object (--format json), per-run flags, durations
 * as people write them, "did you mean", a .gitignore that keeps transcripts out of git.
 */
let server: FakeServer | undefined;
afterEach(async () => {
  await server?.close();
  server = undefined;
});

const usage = { input_tokens: 10, output_tokens: 5, cache_read_input_tokens: 0, cache_creation_input_tokens: 0 };
const say = (text: string) => ({ response: { content: [{ type: "text", text }], stop_reason: "end_turn", usage } });
const toolNames = (req: { body: { tools?: { name: string }[] } }) => (req.body.tools ?? []).map((t) => t.name).sort();
const systemText = (req: { body: { system?: unknown } }) => JSON.stringify(req.body.system ?? "");

/** A temp directory that is a git repository (git init), with `files`, and no pod.toml. */
async function repo(name: string, files: Record<string, string> = {}): Promise<string> {
  const parent = await mkdtemp(path.join(tmpdir(), "pod-day1-"));
  const dir = path.join(parent, name);
  await mkdir(dir);
  execFileSync("git", ["init", "-q", dir]);
  for (const [f, content] of Object.entries(files)) {
    await mkdir(path.dirname(path.join(dir, f)), { recursive: true });
    await writeFile(path.join(dir, f), content);
  }
  return dir;
}

describe("without a pod.toml", () => {
  it("pod run works from a subdirectory of a git repository: the default manifest, rooted at the git root", async () => {
    server = await startFakeServer({
      turns: [
        { response: { content: [{ type: "tool_use", id: "t1", name: "Read", input: { path: "README.md" } }], stop_reason: "tool_use", usage } },
        say("It is a readme."),
      ],
    });
    const root = await repo("My App", { "README.md": "hello\n", "src/deep/x.ts": "x\n", ".env": "SECRET=1\n" });
    const r = await runPod(["run", "what is this?"], { cwd: path.join(root, "src/deep"), env: podEnv(server.url) });
    expect(r.code).toBe(0);
    expect(ofType(r.events, "run_start")[0]).toMatchObject({ pod: "my-app", sandbox: null });
    // The file tools, confined to the git root; no Bash.
    expect(toolNames(server.requests[0]!)).toEqual(["Edit", "Glob", "Grep", "Read", "Write"]);
    expect(ofType(r.events, "tool_result")[0]).toMatchObject({ is_error: false, output: expect.stringContaining("hello") });
    // The runtime directory is .pod/ at that root, and its snapshot says the default was used.
    const snapshot = await readFile(path.join(root, ".pod/my-app/manifest.toml"), "utf8");
    expect(snapshot).toMatch(/default manifest/);
    expect(snapshot).toMatch(/deny = \[ "\.env\*" \]/);
    // status, from anywhere in the repository, finds the same pod.
    const status = await runPod(["status"], { cwd: root, env: podEnv(server.url) });
    expect(JSON.parse(status.stdout)).toMatchObject({ pod: "my-app", status: "idle", last_result: "finished" });
  });

  it("outside any git repository the root is the current directory; .env* stays denied", async () => {
    server = await startFakeServer({ turns: [{ response: { content: [{ type: "tool_use", id: "t1", name: "Read", input: { path: ".env" } }], stop_reason: "tool_use", usage } }, say("denied")] });
    const dir = await mkdtemp(path.join(tmpdir(), "pod-day1-"));
    await writeFile(path.join(dir, ".env"), "SECRET=1\n");
    const r = await runPod(["run", "read .env"], { cwd: dir, env: podEnv(server.url) });
    expect(r.code).toBe(0);
    expect(ofType(r.events, "run_start")[0].pod).toBe(path.basename(dir).toLowerCase().replace(/[^a-z0-9_-]+/g, "-"));
    expect(ofType(r.events, "tool_result")[0]).toMatchObject({ is_error: true });
    expect(r.stdout).not.toContain("SECRET=1");
  });
});

describe("finding pod.toml like git finds .git", () => {
  it("from a subdirectory, and from -C: the nearest pod.toml above; its .pod/ beside it", async () => {
    server = await startFakeServer({ turns: [say("one"), say("two")] });
    const dir = await makeProject(manifest({ name: "found" }), { "src/a/b.txt": "x\n" });
    const fromSub = await runPod(["run", "hi"], { cwd: path.join(dir, "src/a"), env: podEnv(server.url) });
    expect(fromSub.code).toBe(0);
    expect(ofType(fromSub.events, "run_start")[0].pod).toBe("found");
    const viaC = await runPod(["-C", path.join(dir, "src"), "run", "again"], { cwd: tmpdir(), env: podEnv(server.url) });
    expect(viaC.code).toBe(0);
    const status = JSON.parse(await readFile(path.join(dir, ".pod/found/status.json"), "utf8"));
    expect(status.turn).toBe(2);
  });

  it("--manifest is exact: a missing file is an error, never a search or the default", async () => {
    const dir = await makeProject(manifest());
    const r = await runPod(["--manifest", "nope.toml", "status"], { cwd: dir, env: podEnv(undefined) });
    expect(r.code).toBe(2);
    expect(r.events[0]).toMatchObject({ type: "error", code: "invalid_manifest" });
    expect(r.events[0].message).toContain(path.join(dir, "nope.toml"));
  });

  it("-C with a directory that does not exist is a usage error naming it", async () => {
    const r = await runPod(["-C", "/nonexistent/dir", "status"], { cwd: tmpdir(), env: podEnv(undefined) });
    expect(r.code).toBe(2);
    expect(r.events[0].message).toMatch(/-C \/nonexistent\/dir: .* is not a directory/);
  });
});

describe("--format text and --format json", () => {
  it("text: only the final answer on stdout; with --output-schema the JSON", async () => {
    server = await startFakeServer({
      turns: [
        { response: { content: [{ type: "text", text: "Looking." }, { type: "tool_use", id: "t1", name: "Read", input: { path: "a.txt" } }], stop_reason: "tool_use", usage } },
        say("The answer is 42."),
        say('{"verdict":"ok"}'),
      ],
    });
    const dir = await makeProject(manifest(), { "a.txt": "42\n", "s.json": JSON.stringify({ type: "object", properties: { verdict: { type: "string" } }, required: ["verdict"] }) });
    const r = await raw(["run", "what is in a.txt?", "--format", "text"], dir, podEnv(server.url));
    expect(r.code).toBe(0);
    expect(r.stdout).toBe("The answer is 42.\n");
    const s = await raw(["run", "judge", "--format", "text", "--output-schema", "s.json"], dir, podEnv(server.url));
    expect(s.code).toBe(0);
    expect(JSON.parse(s.stdout)).toEqual({ verdict: "ok" });
  });

  it("json: one object at the end — run_end's fields, the final text, the errors", async () => {
    server = await startFakeServer({ turns: [say("Done.")] });
    const dir = await makeProject(manifest({ scope: false }));
    const r = await raw(["run", "hi", "--format", "json"], dir, podEnv(server.url));
    expect(r.code).toBe(0);
    expect(r.stdout.trimEnd().split("\n")).toHaveLength(1);
    const o = JSON.parse(r.stdout);
    expect(o).toMatchObject({ v: 1, result: "finished", turns: 1, usage: { input_tokens: 10, output_tokens: 5 }, text: "Done.", errors: [] });
    expect(o.session_id).toMatch(/^\d{8}T\d{6}Z-/);
    expect(typeof o.duration_ms).toBe("number");
    expect(o).not.toHaveProperty("seq");
    expect(o).not.toHaveProperty("type");
  });

  it("json: a refused invocation is one object carrying the error; stderr has the line for people", async () => {
    const dir = await makeProject(manifest({ scope: false }));
    const r = await raw(["run", "hi", "--format", "json"], dir, podEnv(undefined, { ANTHROPIC_API_KEY: undefined, ANTHROPIC_AUTH_TOKEN: undefined }));
    expect(r.code).toBe(2);
    expect(r.stdout.trimEnd().split("\n").map((l) => JSON.parse(l))).toEqual([{ v: 1, session_id: null, result: "error", text: "", errors: [{ code: "invalid_credentials", message: expect.stringContaining("ANTHROPIC_API_KEY") }] }]);
    expect(r.stderr).toMatch(/^pod: ANTHROPIC_API_KEY .*; fix: /m);
    // A flag commander refuses: the same object; with --format text stdout stays empty.
    const flag = await raw(["run", "hi", "--format", "json", "--bogus"], dir, podEnv(undefined));
    expect(flag.code).toBe(2);
    expect(JSON.parse(flag.stdout)).toEqual({ v: 1, session_id: null, result: "error", text: "", errors: [{ code: "invalid_input", message: "unknown option '--bogus'" }] });
    const text = await raw(["run", "hi", "--format", "text", "--bogus"], dir, podEnv(undefined));
    expect(text.code).toBe(2);
    expect(text.stdout).toBe("");
    expect(text.stderr).toContain("unknown option '--bogus'");
  });
});

describe("errors on stderr when stdout is not a terminal", () => {
  it("a bad manifest, a missing key, a busy pod: one plain line each on stderr, as well as the error event", async () => {
    const bad = await makeProject('[pod]\nname = "x"\n\n[tools.bash]\nenable = true\n');
    const r1 = await runPod(["run", "hi"], { cwd: bad, env: podEnv(undefined) });
    expect(r1.code).toBe(2);
    expect(r1.stderr).toBe(`pod: ${r1.events[0].message}\n`);
    expect(r1.stderr).toMatch(/pod\.toml:5: \[tools\.bash\] enable: .*did you mean 'enabled'\?/);

    const dir = await makeProject(manifest({ scope: false }));
    const r2 = await runPod(["run", "hi"], { cwd: dir, env: podEnv(undefined, { ANTHROPIC_API_KEY: undefined, ANTHROPIC_AUTH_TOKEN: undefined }) });
    expect(r2.code).toBe(2);
    expect(r2.stderr).toMatch(/^pod: ANTHROPIC_API_KEY is not set; fix: export ANTHROPIC_API_KEY=/m);
    expect(r2.stdout).not.toMatch(/^pod:/m);
  });

  it("errors during a run are on stderr too (an MCP server that did not start)", async () => {
    server = await startFakeServer({ turns: [say("ok")] });
    const dir = await makeProject(manifest({ extra: '\n[mcp.broken]\ncommand = ["/nonexistent/mcp-server"]\n' }));
    const r = await runPod(["run", "hi"], { cwd: dir, env: podEnv(server.url) });
    expect(r.code).toBe(0);
    const errors = ofType(r.events, "error");
    expect(errors.length).toBeGreaterThan(0);
    for (const e of errors) expect(r.stderr).toContain(`pod: ${e.message.split("\n")[0]}`);
  });
});

describe("per-run flags override the manifest for that run", () => {
  it("--bash, --disallow-tool, --append-system-prompt: the request and the snapshot show what was used", async () => {
    server = await startFakeServer({ turns: [say("one"), say("two")] });
    const dir = await makeProject(manifest({ extra: '\n[tools]\nask = ["Write"]\n' }));
    const r = await runPod(["run", "hi", "--bash", "--disallow-tool", "Grep", "--disallow-tool", "Glob", "--append-system-prompt", "Answer in French."], { cwd: dir, env: podEnv(server.url) });
    expect(r.code).toBe(0);
    expect(toolNames(server.requests[0]!)).toEqual(["Bash", "Edit", "Read", "Write"]);
    expect(systemText(server.requests[0]!)).toContain("Answer in French.");
    const snapshot = await readFile(path.join(dir, ".pod/tester/manifest.toml"), "utf8");
    expect(snapshot).toMatch(/disabled = \[ "Grep", "Glob" \]/);
    expect(snapshot).toMatch(/\[tools\.bash\][^[]*enabled = true/);
    // The next run without the flags is the manifest again.
    const again = await runPod(["run", "again"], { cwd: dir, env: podEnv(server.url) });
    expect(again.code).toBe(0);
    expect(toolNames(server.requests[1]!)).toEqual(["Edit", "Glob", "Grep", "Read", "Write"]);
    expect(systemText(server.requests[1]!)).not.toContain("Answer in French.");
  });

  it("--allow-tool runs a tool in [tools] ask without pausing; --no-bash turns Bash off", async () => {
    server = await startFakeServer({
      turns: [{ response: { content: [{ type: "tool_use", id: "t1", name: "Write", input: { path: "out.txt", content: "hi\n" } }], stop_reason: "tool_use", usage } }, say("written")],
    });
    const dir = await makeProject(manifest({ extra: '\n[tools]\nask = ["Write"]\n\n[tools.bash]\nenabled = true\nallow = ["true"]\n' }));
    const r = await runPod(["run", "write it", "--allow-tool", "Write", "--no-bash"], { cwd: dir, env: podEnv(server.url) });
    expect(r.code).toBe(0);
    expect(await readFile(path.join(dir, "out.txt"), "utf8")).toBe("hi\n");
    expect(toolNames(server.requests[0]!)).not.toContain("Bash");
  });

  it("contradictions and impossible tools are usage errors before anything is touched", async () => {
    const dir = await makeProject(manifest({ scope: false }));
    for (const [args, pattern] of [
      [["--allow-tool", "Read", "--disallow-tool", "Read"], /both given/],
      [["--bash", "--disallow-tool", "Bash"], /both given/],
      [["--allow-tool", "Reed"], /no such tool/],
      [["--bash"], /has no \[scope\]/],
    ] as const) {
      const r = await runPod(["run", "hi", ...args], { cwd: dir, env: podEnv(undefined) });
      expect({ args, code: r.code }).toEqual({ args, code: 2 });
      expect(r.events[0].message).toMatch(pattern);
    }
  });
});

describe("durations as people write them", () => {
  it("--timeout 1h30m, --timeout 90 (seconds) and timeout = 90 in pod.toml are accepted; nonsense is a usage error", async () => {
    server = await startFakeServer({ turns: [say("a"), say("b"), say("c")] });
    const dir = await makeProject(manifest({ scope: false }).replace("[pod]", "[pod]\ntimeout = 90"));
    for (const t of ["1h30m", "90"]) expect((await runPod(["run", "hi", "--timeout", t], { cwd: dir, env: podEnv(server.url) })).code).toBe(0);
    expect((await runPod(["run", "hi"], { cwd: dir, env: podEnv(server.url) })).code).toBe(0);
    const bad = await runPod(["run", "hi", "--timeout", "soon"], { cwd: dir, env: podEnv(server.url) });
    expect(bad.code).toBe(2);
    expect(bad.events[0].message).toMatch(/--timeout "soon" is not a duration; fix: write it like "90s", "10m", "1h30m"/);
  });
});

describe("did you mean", () => {
  it("a misspelled command: commander's suggestion on stderr, exit 2", async () => {
    const r = await runPod(["stauts"], { cwd: tmpdir(), env: podEnv(undefined) });
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/unknown command 'stauts'[\s\S]*Did you mean status\?/);
  });
});

describe("pod init keeps the runtime directory out of git", () => {
  it("creates .gitignore with .pod/, appends once to an existing one, leaves one that already ignores it", async () => {
    const fresh = await mkdtemp(path.join(tmpdir(), "pod-init-"));
    expect((await runPod(["init"], { cwd: fresh, env: podEnv(undefined) })).code).toBe(0);
    expect(await readFile(path.join(fresh, ".gitignore"), "utf8")).toMatch(/^# .*\n\.pod\/\n$/);

    const existing = await mkdtemp(path.join(tmpdir(), "pod-init-"));
    await writeFile(path.join(existing, ".gitignore"), "node_modules");
    expect((await runPod(["init"], { cwd: existing, env: podEnv(undefined) })).code).toBe(0);
    const once = await readFile(path.join(existing, ".gitignore"), "utf8");
    expect(once.startsWith("node_modules\n")).toBe(true);
    expect(once.match(/^\.pod\/$/gm)).toHaveLength(1);
    // A second init (--force) does not add it again.
    expect((await runPod(["init", "--force"], { cwd: existing, env: podEnv(undefined) })).code).toBe(0);
    expect(await readFile(path.join(existing, ".gitignore"), "utf8")).toBe(once);

    for (const rule of [".pod\n", "/.pod/\n", ".*\n"]) {
      const covered = await mkdtemp(path.join(tmpdir(), "pod-init-"));
      await writeFile(path.join(covered, ".gitignore"), rule);
      expect((await runPod(["init"], { cwd: covered, env: podEnv(undefined) })).code).toBe(0);
      expect(await readFile(path.join(covered, ".gitignore"), "utf8")).toBe(rule);
    }
  });
});
