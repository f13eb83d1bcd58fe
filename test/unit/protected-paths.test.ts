import { mkdir, mkdtemp, realpath, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import path from "node:path";
import { describe, expect, it } from "vitest";
import { protectedPaths } from "../../src/policy/protected.js";

describe("protectedPaths: the protection policy's input seam", () => {
  it("trusted files are read-only with their ancestors pinned; trusted directories are read-only whole; the runtime dir is hidden", async () => {
    const dir = await realpath(await mkdtemp(path.join(tmpdir(), "pod-prot-")));
    await mkdir(path.join(dir, "ci/scripts"), { recursive: true });
    await writeFile(path.join(dir, "ci/scripts/guard.sh"), "exit 0");
    await writeFile(path.join(dir, "ci/pod.toml"), "");
    const p = await protectedPaths({
      manifestFile: path.join(dir, "ci/pod.toml"),
      runtimeDir: path.join(dir, "var/.pod"),
      scopeRoot: dir,
      trusted: [path.join(dir, "ci/scripts/guard.sh"), path.join(dir, "prompts/system.md"), path.join(dir, "AGENTS.md")],
      trustedDirs: [path.join(dir, "ci/scripts"), dir],
    });
    expect(new Set(p.readOnly)).toEqual(
      new Set([path.join(dir, ".git"), path.join(dir, "ci/pod.toml"), path.join(dir, "ci/scripts/guard.sh"), path.join(dir, "prompts/system.md"), path.join(dir, "AGENTS.md"), path.join(dir, "ci/scripts")]),
    );
    // A trusted file's directory is not made read-only by itself (prompts/ stays writable) but keeps its name;
    // the scope root is never read-only, even when named.
    expect(new Set(p.pinned)).toEqual(new Set([path.join(dir, "ci"), path.join(dir, "prompts"), path.join(dir, "var")]));
    expect(p.hidden).toEqual([path.join(dir, "var/.pod")]);
  });
});
