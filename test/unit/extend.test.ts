import { mkdir, mkdtemp, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import path from "node:path";
import { describe, expect, it } from "vitest";
import { hookMatches } from "../../src/hooks/hooks.js";
import { scriptOf, trustedScripts } from "../../src/hooks/protected.js";
import { runHookProcess } from "../../src/hooks/run-hook.js";
import { parseManifestText } from "../../src/manifest.js";
import { bedrockModelId, vertexModelId } from "../../src/provider/model-ids.js";
import { protectedPaths } from "../../src/policy/protected.js";
import { expandVars } from "../../src/tools/mcp/expand.js";

const base = '[pod]\nname = "t"\n';

describe("manifest: mcp and hooks", () => {
  it("needs exactly one of command or url per MCP server", () => {
    expect(() => parseManifestText(base + '[mcp.x]\nenv = {}\n', "pod.toml")).toThrow(/exactly one of command .* or url/);
    expect(() => parseManifestText(base + '[mcp.x]\ncommand = ["a"]\nurl = "http://h/mcp"\n', "pod.toml")).toThrow(/exactly one of command/);
    expect(parseManifestText(base + '[mcp.x]\nurl = "http://h/mcp"\n', "pod.toml").mcp.x!.url).toBe("http://h/mcp");
  });
  it("rejects a hook matcher that is not a regular expression", () => {
    expect(() => parseManifestText(base + '[[hooks.pre_tool_use]]\nmatcher = "Bash("\ncommand = "x"\n', "pod.toml")).toThrow(/regular expression/);
  });
});

describe("hooks", () => {
  it("matches the whole tool name; empty and * match everything", () => {
    expect(hookMatches("Bash|Write", "Write")).toBe(true);
    expect(hookMatches("Bash", "mcp__x__Bashful")).toBe(false);
    expect(hookMatches("mcp__gh__.*", "mcp__gh__create_issue")).toBe(true);
    expect(hookMatches("", "Read")).toBe(true);
    expect(hookMatches("*", "Read")).toBe(true);
  });

  it("makes a hook's script, the directory holding it and an MCP server's script read-only, and pins the directories above", async () => {
    const { realpath } = await import("node:fs/promises");
    const dir = await realpath(await mkdtemp(path.join(tmpdir(), "pod-hookprot-")));
    await mkdir(path.join(dir, "ci/scripts"), { recursive: true });
    await writeFile(path.join(dir, "ci/scripts/guard.sh"), "exit 0");
    await writeFile(path.join(dir, "pod.toml"), "");
    const hooks = {
      pre_tool_use: [{ matcher: "", command: "./ci/scripts/guard.sh --strict", timeout_s: 5 }],
      post_tool_use: [{ matcher: "", command: "python3 -u tools/check.py && npx eslint src/index.ts", timeout_s: 5 }],
      stop: [],
    };
    const mcp = { local: { command: ["node", "tools/mcp.mjs"] }, github: { command: ["npx", "-y", "@modelcontextprotocol/server-github"] } };
    const trusted = trustedScripts(hooks, mcp, [dir]);
    expect(trusted).toEqual([path.join(dir, "ci/scripts/guard.sh"), path.join(dir, "tools/check.py"), path.join(dir, "tools/mcp.mjs")]);
    const p = await protectedPaths({ manifestFile: path.join(dir, "pod.toml"), runtimeDir: path.join(dir, ".pod/t"), scopeRoot: dir, trusted });
    expect(p.readOnly).toEqual(expect.arrayContaining([path.join(dir, "ci/scripts/guard.sh"), path.join(dir, "ci/scripts"), path.join(dir, "tools"), path.join(dir, "pod.toml"), path.join(dir, ".git")]));
    // The manifest's directory is the scope root: not read-only (nothing could be written).
    expect(p.readOnly).not.toContain(dir);
    expect(p.pinned).toEqual(expect.arrayContaining([path.join(dir, "ci"), path.join(dir, ".pod")]));
    expect(p.hidden).toEqual([path.join(dir, ".pod/t")]);
  });

  it("finds the script a command runs, not its data or a package name", () => {
    expect(scriptOf(["./x.sh"])).toBe("./x.sh");
    expect(scriptOf(["env", "A=1", "node", "--no-warnings", "hooks/x.mjs", "--flag"])).toBe("hooks/x.mjs");
    expect(scriptOf(["npx", "-y", "tsx", "hooks/x.ts"])).toBe("hooks/x.ts");
    expect(scriptOf(["python3", "check.py"])).toBe("check.py");
    expect(scriptOf(["npx", "eslint", "src/index.ts"])).toBeUndefined();
    expect(scriptOf(["npx", "-y", "@modelcontextprotocol/server-github"])).toBeUndefined();
    expect(scriptOf(["jq", ".x", "data/a.json"])).toBeUndefined();
  });

  it("kills a hook at its timeout (with what it started) and reports exit null", async () => {
    const r = await runHookProcess("sleep 30 & sleep 30", {}, { cwd: tmpdir(), timeoutMs: 300, signal: new AbortController().signal });
    expect(r.timedOut).toBe(true);
    expect(r.exitCode).toBeNull();
  });
});

describe("MCP $VAR expansion", () => {
  it("takes values from the environment and refuses an unset variable", () => {
    expect(expandVars("Bearer $TOKEN", { TOKEN: "abc" })).toEqual({ value: "Bearer abc" });
    expect(expandVars("${A}-${B}", { A: "1", B: "2" })).toEqual({ value: "1-2" });
    expect(expandVars("$NOPE", {})).toEqual({ missing: "NOPE" });
  });
});

describe("provider model ids", () => {
  it("maps pod's names and keeps provider-specific ids as given", () => {
    expect(bedrockModelId("claude-sonnet-4-5")).toBe("anthropic.claude-sonnet-4-5-20250929-v1:0");
    expect(bedrockModelId("claude-sonnet-5-5")).toBe("anthropic.claude-sonnet-5-5-v1");
    expect(bedrockModelId("us.anthropic.claude-sonnet-4-5-20250929-v1:0")).toBe("us.anthropic.claude-sonnet-4-5-20250929-v1:0");
    expect(vertexModelId("claude-sonnet-4-5")).toBe("claude-sonnet-4-5@20250929");
    expect(vertexModelId("claude-sonnet-5-5")).toBe("claude-sonnet-5-5");
    expect(vertexModelId("claude-opus-4-1@20250805")).toBe("claude-opus-4-1@20250805");
  });
});

describe("provider client", () => {
  it("asks for a region it cannot find, naming the key and the variable", async () => {
    const { createProviderClient } = await import("../../src/provider/client.js");
    await expect(createProviderClient({ name: "bedrock" }, {})).rejects.toThrow(/Bedrock needs an AWS region/);
    await expect(createProviderClient({ name: "vertex" }, {})).rejects.toThrow(/Vertex AI needs a region/);
  });
  it("names MCP tools within the API's character set", async () => {
    const { mcpToolName } = await import("../../src/tools/mcp/tool.js");
    expect(mcpToolName("gh", "issues.create")).toBe("mcp__gh__issues_create");
  });
});
