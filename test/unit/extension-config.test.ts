import { mkdir, mkdtemp, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import path from "node:path";
import { describe, expect, it } from "vitest";
import { hookMatches } from "../../src/hooks/hooks.js";
import { runHookProcess } from "../../src/hooks/run-hook.js";
import { parseManifestText } from "../../src/manifest.js";
import { NOTHING_PROTECTED } from "../../src/sandbox/index.js";
import { bedrockModelId, vertexModelId } from "../../src/provider/model-ids.js";
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

  it("kills a hook at its timeout (with what it started) and reports exit null", async () => {
    const policy = { writable: [tmpdir()], read: [], protect: NOTHING_PROTECTED, network: false };
    const r = await runHookProcess({ command: "sleep 30 & sleep 30", input: {}, cwd: tmpdir(), timeoutMs: 300, signal: new AbortController().signal, kind: "off", policy, envNames: [] });
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
