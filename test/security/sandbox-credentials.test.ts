// The workspace's credentials — actions/checkout's extraheader, a token in a remote's
// URL, a credential helper — never reach the model: Read shows them redacted, Grep
// never searches git's config files (a match or a miss would spell a token), Bash sees
// a sanitized copy (issue 22, item 4). Real bwrap, real git.
import { execFileSync } from "node:child_process";
import { mkdir, writeFile } from "node:fs/promises";
import path from "node:path";
import { beforeEach, describe, expect, it } from "vitest";
import { protectedPaths } from "../../src/policy/protected.js";
import { sandbox, tools, type Sandbox } from "../tools/helpers.js";
import { sandboxedBash } from "./sandboxed.js";

const TOKEN = "eC1hY2Nlc3MtdG9rZW46Z2hzX1NFQ1JFVFRPS0VO"; // base64 of x-access-token:ghs_SECRETTOKEN
const URL_TOKEN = "ghp_URLTOKEN0123456789";
const ROOT_CONFIG = `[core]
\trepositoryformatversion = 0
[remote "origin"]
\turl = https://x-access-token:${URL_TOKEN}@github.com/acme/app
\tfetch = +refs/heads/*:refs/remotes/origin/*
[http "https://github.com/"]
\textraheader = AUTHORIZATION: basic ${TOKEN}
[credential]
\thelper = store --file=/home/runner/creds
`;
const NESTED_CONFIG = "[core]\n\tbare = false\n";
const SUBMODULE_CONFIG = `[core]\n\tworktree = ../../../sub\n[http "https://github.com/"]\n\textraheader = AUTHORIZATION: basic ${TOKEN}\n`;

let sb: Sandbox;
beforeEach(async () => {
  sb = await sandbox({
    "pod.toml": '[pod]\nname = "x"\n',
    "sub/a.txt": "a\n",
    "vendor/lib/index.js": "module.exports = 1;\n",
    "src/app.js": "x\n",
  });
  // Real repositories (git must read them), then the configs actions/checkout would leave.
  for (const dir of [sb.root, path.join(sb.root, "vendor/lib")]) execFileSync("git", ["init", "-q", dir]);
  await writeFile(path.join(sb.root, ".git/config"), ROOT_CONFIG);
  await writeFile(path.join(sb.root, "vendor/lib/.git/config"), NESTED_CONFIG);
  await mkdir(path.join(sb.root, ".git/modules/sub"), { recursive: true });
  await writeFile(path.join(sb.root, ".git/modules/sub/config"), SUBMODULE_CONFIG);
  await writeFile(path.join(sb.root, "sub/.git"), "gitdir: ../.git/modules/sub\n");
});

async function box(root = sb.root) {
  const prot = await protectedPaths({ manifestFile: path.join(root, "pod.toml"), runtimeDir: path.join(root, ".pod"), scopeRoot: root });
  const t = await tools(root, { ...prot, bash: { enabled: true, allow: ["bash -c *", "cat *", "git *"], timeout_s: 20 } });
  const run = sandboxedBash(t);
  return Object.assign(t, { Bash: (input: { command: string }) => run(input.command) });
}

describe("workspace credentials never reach the model", () => {
  const leaks = (s: string) => s.includes(TOKEN) || s.includes(URL_TOKEN) || s.includes("/home/runner/creds");

  it("Read of .git/config, of a submodule's config, shows the rest with the credentials redacted", async () => {
    const t = await box();
    for (const p of [".git/config", ".git/modules/sub/config"]) {
      const r = await t.Read!({ path: p });
      expect(r.isError, r.output).toBe(false);
      expect(leaks(r.output), r.output).toBe(false);
      expect(r.output).toContain("[redacted]");
    }
    expect((await t.Read!({ path: ".git/config" })).output).toContain("fetch = +refs/heads/*:refs/remotes/origin/*");
  });

  it("Grep shows no credential, and cannot be used as an oracle to guess one", async () => {
    const t = await box();
    for (const input of [
      { pattern: "extraheader", path: ".git/config", output_mode: "content" },
      { pattern: "AUTHORIZATION: basic eC1h", path: ".git", output_mode: "files_with_matches" },
      { pattern: "ghp_URL", path: ".git/config", output_mode: "count" },
      { pattern: "basic eC1h", path: ".git/modules/sub/config", output_mode: "content" },
    ]) {
      const r = await t.Grep!(input);
      expect(leaks(r.output), r.output).toBe(false);
      expect(r.output, JSON.stringify(input)).not.toMatch(/config(:\d+)?$/m);
    }
  });

  it("Bash sees a sanitized config: cat, grep and git config show no credential, git still reads the rest", async () => {
    const t = await box();
    for (const command of [
      "cat .git/config",
      "cat .git/modules/sub/config",
      "bash -c 'grep -r basic .git; git config --get-regexp .; git remote -v'",
      "git config --get http.https://github.com/.extraheader",
    ]) {
      const r = await t.Bash({ command });
      expect(leaks(r.output), `${command}: ${r.output}`).toBe(false);
    }
    expect((await t.Bash({ command: "git config --get remote.origin.fetch" })).output).toContain("+refs/heads/*:refs/remotes/origin/*");
  });
});
