// Every `.git` at any depth is read-only for Bash, and a protected path that does not
// exist yet cannot be created (issue 22, item 3). Real bwrap, real git.
import { execFileSync } from "node:child_process";
import { existsSync } from "node:fs";
import { mkdir, readFile, stat } from "node:fs/promises";
import path from "node:path";
import { beforeEach, describe, expect, it } from "vitest";
import { sandbox, type Sandbox } from "../tools/helpers.js";
import { box as boxOver, gitWorkspace, NESTED_CONFIG } from "./git-workspace.js";

let sb: Sandbox;
beforeEach(async () => {
  sb = await gitWorkspace();
});

const box = (root = sb.root) => boxOver(root);

describe("every .git is read-only for Bash, at any depth", () => {
  it("a nested repository's config and hooks cannot be written (core.fsmonitor, pre-commit)", async () => {
    const t = await box();
    const r = await t.Bash({
      command:
        "bash -c 'printf \"[core]\\n\\tfsmonitor = touch /tmp/pwned\\n\" >> vendor/lib/.git/config; mkdir -p vendor/lib/.git/hooks; echo evil > vendor/lib/.git/hooks/pre-commit; echo done'",
    });
    expect(r.output).toContain("done");
    expect(await readFile(path.join(sb.root, "vendor/lib/.git/config"), "utf8")).toBe(NESTED_CONFIG);
    expect(existsSync(path.join(sb.root, "vendor/lib/.git/hooks/pre-commit"))).toBe(false);
  });

  it("the root repository's hooks cannot be written either", async () => {
    const t = await box();
    await t.Bash({ command: "bash -c 'mkdir -p .git/hooks; echo evil > .git/hooks/pre-commit; chmod +x .git/hooks/pre-commit'" });
    expect(existsSync(path.join(sb.root, ".git/hooks/pre-commit"))).toBe(false);
  });

  it("a submodule's gitfile cannot be repointed, nor removed and replaced", async () => {
    const t = await box();
    await t.Bash({ command: "bash -c 'echo \"gitdir: /tmp/evil\" > sub/.git; rm -f sub/.git; mkdir sub/.git; echo done'" });
    expect(await readFile(path.join(sb.root, "sub/.git"), "utf8")).toBe("gitdir: ../.git/modules/sub\n");
    expect((await stat(path.join(sb.root, "sub/.git"))).isFile()).toBe(true);
  });

  it("a nested repository cannot be moved aside and replaced", async () => {
    const t = await box();
    const r = await t.Bash({ command: "bash -c 'mv vendor/lib/.git vendor/lib/.git.orig; mv vendor/lib vendor/lib2; mv vendor vendor2; mkdir -p vendor/lib/.git; echo done'" });
    expect(r.output).toContain("done");
    expect(await readFile(path.join(sb.root, "vendor/lib/.git/config"), "utf8")).toBe(NESTED_CONFIG);
  });
});

describe("a protected path that does not exist yet cannot be created", () => {
  it("a scope root without .git: Bash cannot create one, and nothing is left behind that breaks git", async () => {
    const bare = await sandbox({ "pod.toml": '[pod]\nname = "x"\n', "a.txt": "a\n" });
    const t = await box(bare.root);
    const r = await t.Bash({ command: "bash -c 'mkdir -p .git/hooks; printf \"[core]\\n\\tfsmonitor = env\\n\" > .git/config; echo gitdir: /tmp > .git; echo done'" });
    expect(r.output).toContain("done");
    expect(existsSync(path.join(bare.root, ".git/config"))).toBe(false);
    expect(existsSync(path.join(bare.root, ".git"))).toBe(false);
    // git at the root of a parent repository still works: no placeholder breaks it.
    execFileSync("git", ["init", "-q", bare.base]);
    expect(execFileSync("git", ["-C", bare.root, "status", "--short", "--untracked-files=all"], { encoding: "utf8" })).toContain("a.txt");
  });
});
