import { execFile, execFileSync } from "node:child_process";
import { realpathSync } from "node:fs";
import { promisify } from "node:util";
import { readFile, writeFile } from "node:fs/promises";
import path from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import { startFakeServer, type FakeServer } from "../fake-server/server.js";
import { makeProject, manifest, ofType, podEnv, POD_BIN, runPod } from "../helpers/pod-process.js";
import { after, call, textTurn, toolsTurn } from "../helpers/turns.js";

/** The system prompt pod builds, and the instruction files (AGENTS.md, CLAUDE.md) it adds, as the model receives them. */

/** A command whose stdout is a document, not event lines. */
const runText = async (args: string[], cwd: string) =>
  (await promisify(execFile)(process.execPath, [POD_BIN, ...args], { cwd, env: podEnv(undefined) as NodeJS.ProcessEnv })).stdout;

const systemText = (body: any): string => body.system.map((b: any) => b.text).join("");

let server: FakeServer | undefined;
afterEach(async () => {
  await server?.close();
  server = undefined;
});

/** The test manifest without its system_prompt line, so the built-in prompt is used. */
const builtInManifest = (extra = "") => manifest({ extra }).replace('system_prompt = "You fix code."\n', "");

describe("the built-in system prompt and instruction files", () => {
  it("names the environment and the tools' limits, includes instruction files from the git root down, and is byte-identical across turns", async () => {
    // The model also calls Write, which [tools] disabled hides: it is answered as an unknown tool.
    const readAndWrite = toolsTurn([call("toolu_1", "Read", { path: "hello.txt" }), call("toolu_w", "Write", { path: "hello.txt", content: "pwned" })]);
    server = await startFakeServer({ turns: [readAndWrite, textTurn("It says hi.", after("toolu_w"))] });
    // A git repository whose root has AGENTS.md; the pod lives in svc/ with its own CLAUDE.md.
    const repo = await makeProject("", { "AGENTS.md": "ROOT-RULE: use tabs.\n", "svc/CLAUDE.md": "SVC-RULE: run make check.\n", "svc/hello.txt": "hi\n" });
    const git = (...args: string[]) => execFileSync("git", args, { cwd: repo, stdio: "pipe" });
    git("init", "-q", "-b", "trunk");
    await writeFile(
      path.join(repo, "svc/pod.toml"),
      builtInManifest(
        '\n[tools]\ndisabled = ["Write"]\n[tools.bash]\nenabled = true\nallow = ["make check", "npx vitest run *"]\nnetwork = false\n',
      ).replace("max_turns = 10", 'max_turns = 10\nappend_system_prompt = "APPENDED-LINE"'),
    );
    const dir = path.join(repo, "svc");
    const r = await runPod(["run", "what does hello.txt say?"], { cwd: dir, env: podEnv(server.url) });
    expect(r.code).toBe(0);
    expect(server.mismatches).toEqual([]);
    expect(r.events[0]).toMatchObject({ type: "run_start", instructions: ["../AGENTS.md", "CLAUDE.md"] });
    const denied = ofType(r.events, "tool_result").find((e) => e.id === "toolu_w");
    expect(denied).toMatchObject({ is_error: true });
    expect(denied.output).toContain('Unknown tool "Write"');
    expect(await readFile(path.join(repo, "svc/hello.txt"), "utf8")).toBe("hi\n");

    const [first, second] = server.requests.map((q) => q.body);
    // Byte-stable across the turns of a run: the prompt cache keeps hitting.
    expect(JSON.stringify(second.system)).toBe(JSON.stringify(first.system));
    const system = systemText(first);
    expect(system).toContain("Never ask questions");
    expect(system).toContain(`Workspace root: ${realpathSync(dir)}`);
    expect(system).toMatch(/OS: (Linux|macOS) /);
    expect(system).toContain(`Date: ${new Date().toISOString().slice(0, 10)}`);
    expect(system).toContain("Git: branch trunk");
    expect(system).toContain('"make check", "npx vitest run *"');
    expect(system).toContain("network off");
    expect(system).toMatch(/Protected, never writable.*pod\.toml.*\.git\//);
    // Disabled tools are neither described nor offered.
    expect(system).toContain("File tools: Read, Edit, Glob, Grep.");
    expect(first.tools.map((t: any) => t.name)).toEqual(["Read", "Edit", "Glob", "Grep", "Bash"]);
    // Order: built-in, append_system_prompt, instruction files outermost first.
    const at = (s: string) => system.indexOf(s);
    expect(at("# Environment")).toBeLessThan(at("APPENDED-LINE"));
    expect(at("APPENDED-LINE")).toBeLessThan(at("ROOT-RULE"));
    expect(at("ROOT-RULE")).toBeLessThan(at("SVC-RULE"));

    // `pod prompt` and `pod run --print-system-prompt` print exactly what was sent.
    expect(await runText(["prompt"], dir)).toBe(system + "\n");
    expect(await runText(["run", "--print-system-prompt"], dir)).toBe(system + "\n");
  });

  it("instructions = [] loads none, and system_prompt replaces the built-in prompt", async () => {
    const dir = await makeProject(manifest({ extra: "" }).replace("max_turns = 10", "max_turns = 10\ninstructions = []"), { "AGENTS.md": "NOT-LOADED\n" });
    expect(await runText(["prompt"], dir)).toBe("You fix code.\n");
  });
});
