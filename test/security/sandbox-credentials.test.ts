// The workspace's credentials — actions/checkout's extraheader, a token in a remote's
// URL, a credential helper — never reach the model: Read shows them redacted, Grep
// never searches git's config files (a match or a miss would spell a token), Bash sees
// a sanitized copy (issue 22, item 4). Real bwrap, real git.
import path from "node:path";
import { beforeEach, describe, expect, it } from "vitest";
import type { Sandbox } from "../tools/helpers.js";
import { box as boxOver, gitWorkspace, TOKEN, URL_TOKEN } from "./git-workspace.js";

let sb: Sandbox;
beforeEach(async () => {
  sb = await gitWorkspace();
});

const box = (root = sb.root) => boxOver(root);

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
