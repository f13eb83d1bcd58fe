import { existsSync } from "node:fs";
import { mkdir, mkdtemp, readFile, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import path from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import { startFakeServer, type FakeServer } from "../fake-server/server.js";
import { makeProject, ofType, podEnv, runPod } from "../helpers/pod-process.js";

/**
 * The sandbox half of "trusted inputs are protected by any path" (issue 21 item 1,
 * issue 22 item 3): Bash itself cannot rename an ancestor of a pinned file or create a
 * pinned path that did not exist at start. On the `trust` branch alone pod only
 * notices such a change afterwards (contract_changed, test/security/trusted-inputs.test.ts);
 * these pass once the sandbox derives its mounts from the pinned file and directory
 * lists (Pins.files() / Pins.directories(), handed over in src/runtime/invocation.ts).
 */
const usage = { input_tokens: 10, output_tokens: 5, cache_read_input_tokens: 0, cache_creation_input_tokens: 0 };
const bash = (id: string) => ({ response: { content: [{ type: "tool_use", id, name: "Bash", input: { command: "sh attack.sh" } }], stop_reason: "tool_use", usage } });
const text = { response: { content: [{ type: "text", text: "done" }], stop_reason: "end_turn", usage } };

let server: FakeServer | undefined;
afterEach(async () => {
  await server?.close();
  server = undefined;
});

const pod = (extra: string, root = ".") =>
  ['[pod]', 'name = "tester"', 'system_prompt = "x"', "", "[scope]", `root = "${root}"`, "", "[tools.bash]", "enabled = true", 'allow = ["sh attack.sh"]', extra, ""].join("\n");

describe("Bash cannot move or create a pinned input", () => {
  it("an ancestor of a hook script's directory cannot be renamed", async () => {
    server = await startFakeServer({ turns: [bash("b1"), text] });
    const dir = await makeProject(pod('\n[[hooks.pre_tool_use]]\nmatcher = "Read"\ncommand = "sh tools/hooks/check.sh"\n'), {
      "tools/hooks/check.sh": "cat > /dev/null\nexit 0\n",
      "attack.sh": "mv tools tools.orig\n",
    });
    const r = await runPod(["run", "go"], { cwd: dir, env: podEnv(server.url) });
    expect(existsSync(path.join(dir, "tools.orig"))).toBe(false);
    expect(await readFile(path.join(dir, "tools/hooks/check.sh"), "utf8")).toBe("cat > /dev/null\nexit 0\n");
    // The rename is refused by the kernel (a mount point cannot be renamed): the command fails,
    // which for Bash is a normal result with its exit code, not a tool error.
    const result = ofType(r.events, "tool_result")[0];
    expect(result.output).toMatch(/Device or resource busy/);
    expect(result.output).toMatch(/\[exit code: 1\]$/);
  });

  it("a hook script missing at start cannot be created, nor its directory", async () => {
    server = await startFakeServer({ turns: [bash("b1"), text] });
    const dir = await makeProject(pod('\n[[hooks.pre_tool_use]]\nmatcher = "Read"\ncommand = "sh hooks/check.sh"\n'), {
      "attack.sh": "mkdir -p hooks && printf 'touch pwned\\n' > hooks/check.sh\n",
    });
    await runPod(["run", "go"], { cwd: dir, env: podEnv(server.url) });
    expect(existsSync(path.join(dir, "hooks/check.sh"))).toBe(false);
  });

  it("--manifest ci/pod.toml: the directory holding the manifest cannot be renamed", async () => {
    server = await startFakeServer({ turns: [bash("b1"), text] });
    const dir = await mkdtemp(path.join(tmpdir(), "pod-e2e-"));
    await mkdir(path.join(dir, "ci"));
    const toml = pod("", "..");
    await writeFile(path.join(dir, "ci/pod.toml"), toml);
    await writeFile(path.join(dir, "attack.sh"), "mv ci ci.orig\n");
    const r = await runPod(["run", "--manifest", "ci/pod.toml", "go"], { cwd: dir, env: podEnv(server.url) });
    expect(r.code, r.stderr).toBe(0);
    expect(existsSync(path.join(dir, "ci.orig"))).toBe(false);
    expect(await readFile(path.join(dir, "ci/pod.toml"), "utf8")).toBe(toml);
  });
});
