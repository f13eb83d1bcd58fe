import { mkdtemp, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import path from "node:path";
import { describe, expect, it } from "vitest";
import { loadManifest, parseManifestText } from "../../src/manifest.js";
import { starterManifest } from "../../src/commands/init.js";

const parseError = (text: string) => {
  try {
    parseManifestText(text, "/p/pod.toml");
  } catch (err) {
    return err as Error & { code: string; full: string };
  }
  throw new Error("expected an error");
};

describe("manifest", () => {
  it("fills defaults", () => {
    const m = parseManifestText('[pod]\nname = "fixer"\n', "/p/pod.toml");
    expect(m.pod).toMatchObject({ name: "fixer", model: "claude-sonnet-5-5", max_tokens: 8192, max_turns: 30 });
    expect(m.scope).toBeUndefined();
    expect(m.tools).toEqual({
      ask: [],
      disabled: [],
      bash: { enabled: false, allow: [], timeout_s: 120, sandbox: "required", network: false, env: [], read: [] },
    });
    expect(m.pod.instructions).toEqual(["AGENTS.md", "CLAUDE.md"]);
    expect(m.provider).toEqual({ name: "anthropic" });
    expect(m.mcp).toEqual({});
    expect(m.hooks).toEqual({ pre_tool_use: [], post_tool_use: [], stop: [] });
    expect(m.compaction).toEqual({ threshold_tokens: 120000, keep_recent_turns: 4 });
  });

  it("accepts every key SPEC shows and rejects a bad duration, tool name and sandbox mode", () => {
    const m = parseManifestText(
      [
        '[pod]\nname = "fixer"\nappend_system_prompt = "x"\ninstructions = []\nmax_cost_usd = 2.0\ntimeout = "20m"',
        '[provider]\nname = "bedrock"\nregion = "us-east-1"\nfallback_model = "claude-haiku-5-5"',
        '[pricing."my-model"]\ninput = 3.0\noutput = 15.0',
        '[tools]\nask = ["mcp__github__create_issue"]\ndisabled = ["Write"]',
        '[tools.bash]\nenabled = true\nsandbox = "off"\nnetwork = ["registry.npmjs.org"]\nenv = ["CI"]\nread = ["~/.cache/ms-playwright", "/opt/hostedtoolcache/node"]',
        '[mcp.github]\ncommand = ["npx", "-y", "server"]\nenv = { GITHUB_TOKEN = "$GITHUB_TOKEN" }',
        '[[hooks.pre_tool_use]]\nmatcher = "Bash|Write"\ncommand = "./guard.sh"',
      ].join("\n"),
      "/p/pod.toml",
    );
    expect(m.pod.timeout).toBe("20m");
    expect(m.tools.bash.network).toEqual(["registry.npmjs.org"]);
    expect(m.tools.bash.read).toEqual(["~/.cache/ms-playwright", "/opt/hostedtoolcache/node"]);
    expect(m.hooks.pre_tool_use[0]).toMatchObject({ matcher: "Bash|Write", command: "./guard.sh" });
    expect(parseError('[pod]\nname = "a"\ntimeout = "soon"\n').full).toContain("duration");
    expect(parseError('[pod]\nname = "a"\n[tools]\nask = ["Rm"]\n').full).toContain("MCP tool name");
    expect(parseError('[pod]\nname = "a"\n[tools.bash]\nsandbox = "maybe"\n').full).toContain("required");
    expect(parseError('[pod]\nname = "a"\n[tools.bash]\nenv = ["CI", "ANTHROPIC_API_KEY"]\n').full).toMatch(/pod.toml:\d+: \[tools.bash.env\] 1: the provider credential is never passed to Bash/);
  });

  it("[tools.bash] read: absolute or ~/ paths only, with a fix that shows both", () => {
    for (const bad of ['["node_modules"]', '["~root/x"]', '["/opt/../root"]', '["./tools"]']) {
      const err = parseError(`[pod]\nname = "a"\n[tools.bash]\nread = ${bad}\n`);
      expect(err.code).toBe("invalid_manifest");
      expect(err.full, bad).toMatch(/pod\.toml:4: \[tools\.bash\.read\] 0: must be an absolute path or start with ~\//);
      expect(err.full).toContain('read = ["~/.cache/ms-playwright", "/opt/hostedtoolcache/node"]');
    }
  });

  it("[pod] thinking: off by default, adaptive, or a budget of at least 1024 below max_tokens", () => {
    const parse = (extra: string) => parseManifestText(`[pod]\nname = "fixer"\n${extra}\n`, "/p/pod.toml").pod;
    expect(parse("").thinking).toBe("off");
    expect(parse('thinking = "adaptive"').thinking).toBe("adaptive");
    expect(parse("thinking = 4096").thinking).toBe(4096);
    expect(parseError('[pod]\nname = "fixer"\nthinking = 1000\n').full).toContain("[pod] thinking: a thinking budget must be at least 1024");
    expect(parseError('[pod]\nname = "fixer"\nthinking = 2048.5\n').full).toContain('must be "off", "adaptive" or a whole number');
    expect(parseError('[pod]\nname = "fixer"\nthinking = "on"\n').full).toContain('must be "off", "adaptive" or a whole number');
    const err = parseError('[pod]\nname = "fixer"\nmax_tokens = 4096\nthinking = 4096\n');
    expect(err.code).toBe("invalid_manifest");
    expect(err.full).toContain("/p/pod.toml:4: [pod] thinking: the thinking budget must be less than [pod] max_tokens");
    expect(err.full).toContain("raise [pod] max_tokens above the budget");
  });

  it("names file, line, key and fix for a wrong type", () => {
    const err = parseError('[pod]\nname = "fixer"\n\n[tools.bash]\nenabled = "yes"\n');
    expect(err.code).toBe("invalid_manifest");
    expect(err.full).toContain("/p/pod.toml:5");
    expect(err.full).toContain("[tools.bash] enabled");
    expect(err.full).toContain("fix:");
  });

  it("rejects unknown keys (typos) and bad names", () => {
    expect(parseError('[pod]\nname = "x"\nmodle = "y"\n').full).toMatch(/pod\.toml:3.*modle/);
    expect(parseError('[pod]\nname = "Has Spaces"\n').full).toMatch(/pod\.toml:2.*name/);
    expect(parseError('[pod]\nname = "x"\n[tools]\nask = ["Wirte"]\n').full).toMatch(/ask.*Read, Write/);
    expect(parseError('[pod]\nname = "x"\nsystem_prompt = "a"\nsystem_prompt_file = "b"\n').full).toMatch(/either system_prompt or system_prompt_file/);
  });

  it("reports TOML syntax errors with line and column", () => {
    expect(parseError('[pod]\nname = "x\n').full).toMatch(/pod\.toml:2:\d+/);
  });

  it("the starter manifest is valid and resolves scope and prompt files", async () => {
    const dir = await mkdtemp(path.join(tmpdir(), "pod-manifest-"));
    await writeFile(path.join(dir, "pod.toml"), starterManifest("demo"));
    const m = await loadManifest(path.join(dir, "pod.toml"));
    expect(m.data.pod.name).toBe("demo");
    expect(m.scopeRoot).toBe(await import("node:fs/promises").then((fs) => fs.realpath(dir)));

    await writeFile(path.join(dir, "p.toml"), '[pod]\nname = "x"\nsystem_prompt_file = "missing.md"\n');
    await expect(loadManifest(path.join(dir, "p.toml"))).rejects.toThrow(/missing\.md/);
    await writeFile(path.join(dir, "s.toml"), '[pod]\nname = "x"\n[scope]\nroot = "nope"\n');
    await expect(loadManifest(path.join(dir, "s.toml"))).rejects.toThrow(/s\.toml:4.*does not exist/);
  });
});
