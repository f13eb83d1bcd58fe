// pod's own git state (the system prompt's "Git: …" line) never runs repository
// configuration and never follows a gitfile the model planted (issue 21 item 2).
// Before the fix pod ran `git status` with its whole environment on every run: a
// submodule's gitfile repointed at a model-written gitdir with core.fsmonitor put the
// provider key in a file the model could read. Real git, real bwrap, the built binary.
import { execFileSync } from "node:child_process";
import { existsSync, readdirSync, readFileSync, statSync } from "node:fs";
import { mkdir, writeFile } from "node:fs/promises";
import path from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import { startFakeServer, type FakeServer } from "../fake-server/server.js";
import { makeProject, ofType, podEnv, runPod, TEST_API_KEY } from "../helpers/pod-process.js";

const usage = { input_tokens: 10, output_tokens: 5, cache_read_input_tokens: 0, cache_creation_input_tokens: 0 };
const bash = (id: string, command: string) => ({ response: { content: [{ type: "tool_use", id, name: "Bash", input: { command } }], stop_reason: "tool_use", usage } });
const text = { response: { content: [{ type: "text", text: "done" }], stop_reason: "end_turn", usage } };

let server: FakeServer | undefined;
afterEach(async () => {
  await server?.close();
  server = undefined;
});

/** pod's built-in system prompt (no system_prompt key): it is the one that names the git state. */
const pod = ['[pod]', 'name = "tester"', 'model = "claude-sonnet-5-5"', "", "[scope]", 'root = "."', "", "[tools.bash]", "enabled = true", 'allow = ["sh attack.sh"]', ""].join("\n");

const git = (cwd: string, ...args: string[]) => execFileSync("git", ["-c", "user.email=t@t", "-c", "user.name=t", ...args], { cwd, encoding: "utf8" });

/** Every file under `dir` (the runtime directory included) holding `needle`, and every file named leak.txt. */
function findLeaks(dir: string, needle: string): string[] {
  const found: string[] = [];
  const walk = (d: string) => {
    for (const name of readdirSync(d)) {
      const p = path.join(d, name);
      const st = statSync(p, { throwIfNoEntry: false });
      if (!st) continue;
      if (st.isDirectory()) walk(p);
      else if (name === "leak.txt" || (st.isFile() && readFileSync(p).includes(needle))) found.push(path.relative(dir, p));
    }
  };
  walk(dir);
  return found;
}

/** The system prompt's git line as pod sent it. */
const gitLine = (s: FakeServer) => /^- Git: (.*)$/m.exec(s.requests[0]!.body.system[0].text)?.[1];

describe("pod's git state runs nothing of the repository's", () => {
  it("a submodule's gitfile repointed (by sandboxed Bash) at a model-written gitdir with core.fsmonitor: the next run runs nothing, the key is nowhere", async () => {
    const dir = await makeProject(pod, { "README.md": "hi\n" });
    git(dir, "init", "-q", "-b", "main");
    git(dir, "add", "README.md", "pod.toml");
    // A submodule that is not checked out (a clone without --recursive): a gitlink in the index, an empty directory.
    git(dir, "update-index", "--add", "--cacheinfo", `160000,${"1".repeat(40)},sub`);
    git(dir, "commit", "-qm", "init");
    await mkdir(path.join(dir, "sub"));
    const attack = [
      "git init -q gd",
      "git -C gd config core.fsmonitor 'env > leak.txt; echo'",
      "printf 'gitdir: ../gd/.git\\n' > sub/.git",
      "echo planted",
    ].join(" && ");
    await writeFile(path.join(dir, "attack.sh"), attack + "\n");

    // Run 1: the model plants it through Bash, which the sandbox allows (a .git made during a run is the model's).
    server = await startFakeServer({ turns: [bash("b1", "sh attack.sh"), text] });
    const r1 = await runPod(["run", "plant"], { cwd: dir, env: podEnv(server.url) });
    expect(r1.code, r1.stderr).toBe(0);
    expect(ofType(r1.events, "tool_result")[0].output, "this test needs Bash to run in bubblewrap").toMatch(/planted\n\[exit code: 0\]$/);
    expect(readFileSync(path.join(dir, "sub/.git"), "utf8")).toBe("gitdir: ../gd/.git\n");
    // Real git would run it: the attack is live.
    expect(execFileSync("git", ["config", "-f", path.join(dir, "gd/.git/config"), "core.fsmonitor"], { encoding: "utf8" }).trim()).toBe("env > leak.txt; echo");
    await server.close();

    // Run 2: the next `pod run` reads the git state for its system prompt.
    server = await startFakeServer({ turns: [text] });
    const r2 = await runPod(["run", "next"], { cwd: dir, env: podEnv(server.url) });
    expect(r2.code, r2.stderr).toBe(0);
    expect(findLeaks(dir, TEST_API_KEY)).toEqual([]);
    expect(r2.stdout + r2.stderr).not.toContain(TEST_API_KEY);
    expect(JSON.stringify(server.requests.map((q) => q.body))).not.toContain(TEST_API_KEY);
    // The state is still read: the branch, and the submodule ignored (as `--ignore-submodules=all`); pod.toml and README.md are clean.
    expect(gitLine(server)).toBe("branch main, no uncommitted changes to tracked files");
  });

  it("a .git where the scope root has none: Bash cannot create it, and one that is there anyway runs nothing", async () => {
    const dir = await makeProject(pod, { "README.md": "hi\n", "attack.sh": "git init -q . && git config core.fsmonitor 'env > leak.txt; echo' && echo planted\n" });
    // A tarball checkout: no .git at or above the scope root (the temp dir has none above it).
    expect(() => execFileSync("git", ["rev-parse", "--git-dir"], { cwd: dir, stdio: "pipe" })).toThrow();
    server = await startFakeServer({ turns: [bash("b1", "sh attack.sh"), text] });
    const r1 = await runPod(["run", "plant"], { cwd: dir, env: podEnv(server.url) });
    expect(r1.code, r1.stderr).toBe(0);
    const out = ofType(r1.events, "tool_result")[0].output;
    expect(out, "this test needs Bash to run in bubblewrap").toMatch(/\[exit code: \d+\]$/);
    expect(out).not.toContain("planted");
    expect(existsSync(path.join(dir, ".git/config"))).toBe(false);
    await server.close();

    // Where one arrived anyway (the tarball held it, a run with sandbox = "off" made it): pod reads it as data.
    git(dir, "init", "-q", "-b", "trunk");
    git(dir, "config", "core.fsmonitor", "env > leak.txt; echo");
    git(dir, "add", "README.md");
    git(dir, "commit", "-qm", "x");
    // Real git would run it.
    const real = execFileSync("git", ["status", "--porcelain", "--untracked-files=no"], { cwd: dir, env: { ...process.env, PROBE: "real-git-ran" }, encoding: "utf8" });
    expect(real).toBe("");
    expect(readFileSync(path.join(dir, "leak.txt"), "utf8")).toContain("PROBE=real-git-ran");
    execFileSync("rm", ["-f", path.join(dir, "leak.txt")]);

    server = await startFakeServer({ turns: [text] });
    const r2 = await runPod(["run", "next"], { cwd: dir, env: podEnv(server.url) });
    expect(r2.code, r2.stderr).toBe(0);
    expect(findLeaks(dir, TEST_API_KEY)).toEqual([]);
    expect(r2.stdout + r2.stderr).not.toContain(TEST_API_KEY);
    expect(gitLine(server)).toBe("branch trunk, no uncommitted changes to tracked files");
  });
});
