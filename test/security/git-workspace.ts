// A workspace as actions/checkout leaves it, for the tests of .git and its credentials:
// real repositories (a root one, a nested one, a submodule's gitdir) whose configs hold
// the token checkout persists, and the file tools and sandboxed Bash over it.
import { execFileSync } from "node:child_process";
import { mkdir, writeFile } from "node:fs/promises";
import path from "node:path";
import { protectedPaths } from "../../src/policy/protected.js";
import { sandbox, tools, type Sandbox } from "../tools/helpers.js";
import { sandboxedBash } from "./sandboxed.js";

export const TOKEN = "eC1hY2Nlc3MtdG9rZW46Z2hzX1NFQ1JFVFRPS0VO"; // base64 of x-access-token:ghs_SECRETTOKEN
export const URL_TOKEN = "ghp_URLTOKEN0123456789";
export const ROOT_CONFIG = `[core]
\trepositoryformatversion = 0
[remote "origin"]
\turl = https://x-access-token:${URL_TOKEN}@github.com/acme/app
\tfetch = +refs/heads/*:refs/remotes/origin/*
[http "https://github.com/"]
\textraheader = AUTHORIZATION: basic ${TOKEN}
[credential]
\thelper = store --file=/home/runner/creds
`;
export const NESTED_CONFIG = "[core]\n\tbare = false\n";
export const SUBMODULE_CONFIG = `[core]\n\tworktree = ../../../sub\n[http "https://github.com/"]\n\textraheader = AUTHORIZATION: basic ${TOKEN}\n`;

/** The workspace, made fresh. */
export async function gitWorkspace(): Promise<Sandbox> {
  const sb = await sandbox({
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
  return sb;
}

/** The file tools and sandboxed Bash (cat, git, bash -c allowed) over `root`, with the policy pod would derive. */
export async function box(root: string) {
  const prot = await protectedPaths({ manifestFile: path.join(root, "pod.toml"), runtimeDir: path.join(root, ".pod"), scopeRoot: root });
  const t = await tools(root, { ...prot, bash: { enabled: true, allow: ["bash -c *", "cat *", "git *"], timeout_s: 20 } });
  const run = sandboxedBash(t);
  return Object.assign(t, { Bash: (input: { command: string }) => run(input.command) });
}
