import { execFileSync } from "node:child_process";
import { createHash } from "node:crypto";
import { mkdir, mkdtemp, rename, symlink, writeFile, utimes, stat } from "node:fs/promises";
import { tmpdir } from "node:os";
import path from "node:path";
import { describe, expect, it } from "vitest";
import { pinTrustedInputs } from "../../src/contract/pins.js";
import { readTrusted } from "../../src/contract/read.js";
import { scriptsOfShell, scriptsOfWords, shellSegments } from "../../src/contract/scripts.js";
import { loadManifest } from "../../src/manifest.js";

async function project(toml: string, files: Record<string, string> = {}): Promise<string> {
  const dir = await mkdtemp(path.join(tmpdir(), "pod-pins-"));
  await writeFile(path.join(dir, "pod.toml"), toml);
  for (const [name, content] of Object.entries(files)) {
    await mkdir(path.dirname(path.join(dir, name)), { recursive: true });
    await writeFile(path.join(dir, name), content);
  }
  return dir;
}

const scripts = (command: string) => scriptsOfShell(command, 0);

describe("the scripts a command runs", () => {
  it("finds the program, an interpreter's script, preloads and inline shell commands", () => {
    expect(scripts("./guard.sh --strict")).toEqual([{ word: "./guard.sh", strict: true }]);
    expect(scripts("python3 hooks/check.py")).toEqual([{ word: "hooks/check.py", strict: true }]);
    expect(scripts("python3 -W ignore -u check.py arg")).toEqual([{ word: "check.py", strict: true }]);
    expect(scripts("node -r ./setup.js tools/mcp.mjs")).toEqual([
      { word: "./setup.js", strict: true },
      { word: "tools/mcp.mjs", strict: true },
    ]);
    expect(scripts(`bash -c "./a.sh && sh b/c.sh"`)).toEqual([
      { word: "./a.sh", strict: true },
      { word: "b/c.sh", strict: true },
    ]);
    expect(scripts("A=1 env -i B=2 timeout 5 ./x.sh")).toEqual([{ word: "./x.sh", strict: true }]);
    expect(scripts("deno run -A tools/srv.ts")).toEqual([{ word: "tools/srv.ts", strict: true }]);
    expect(scriptsOfWords(["node", "tools/mcp.mjs"], 0)).toEqual([{ word: "tools/mcp.mjs", strict: true }]);
  });

  it("takes other path-like words as mentioned, and skips what it cannot know", () => {
    expect(scripts("jq -f filters/check.jq > out.json 2>&1")).toEqual([{ word: "filters/check.jq", strict: false }]);
    expect(scripts("python3 -m mypkg.check")).toEqual([]);
    expect(scripts("npx -y @scope/server")).toEqual([{ word: "@scope/server", strict: false }]);
    expect(scripts("$HOME/bin/x.sh; ./y-$V.sh")).toEqual([]);
    expect(scripts("cat /dev/stdin | /usr/bin/python3 hooks/c.py")).toEqual([{ word: "hooks/c.py", strict: true }]);
  });

  it("splits a command line as sh does: quotes, operators, comments", () => {
    expect(shellSegments(`a 'b c' "d \\"e\\"" f\\ g; h && i | j # k l`)).toEqual([["a", "b c", 'd "e"', "f g"], ["h"], ["i"], ["j"]]);
  });
});

describe("readTrusted", () => {
  it("refuses a FIFO at once (never waits for a writer) and names what it is", async () => {
    const dir = await mkdtemp(path.join(tmpdir(), "pod-read-"));
    execFileSync("mkfifo", [path.join(dir, "fifo")]);
    const r = await readTrusted(path.join(dir, "fifo"), "fifo");
    expect(r).toMatchObject({ ok: false, reason: "not_regular" });
    expect(!r.ok && r.message).toMatch(/named pipe/);
  });

  it("hashes what it read: a kept file's hash (computed when first asked for) and a hashed-only one's are the bytes' SHA-256", async () => {
    const dir = await mkdtemp(path.join(tmpdir(), "pod-read-"));
    // Past one 64 KiB read, so the hash covers more than the first chunk.
    const content = Buffer.from("pod\n".repeat(50_000));
    await writeFile(path.join(dir, "f"), content);
    const expected = createHash("sha256").update(content).digest("hex");
    const kept = await readTrusted(path.join(dir, "f"), "f");
    const hashed = await readTrusted(path.join(dir, "f"), "f", { keep: false });
    expect(kept.ok && kept.file.bytes.equals(content)).toBe(true);
    expect(kept.ok && kept.file.sha256).toBe(expected);
    expect(kept.ok && kept.file.sha256).toBe(expected);
    expect(hashed.ok && hashed.file.bytes.length).toBe(0);
    expect(hashed.ok && hashed.file.sha256).toBe(expected);
  });
});

describe("pinTrustedInputs and Pins.verify", () => {
  const HOOKED = '[pod]\nname = "t"\nsystem_prompt_file = "prompts/s.md"\n[scope]\nroot = "."\ndeny = [".env*"]\n[[hooks.pre_tool_use]]\ncommand = "python3 tools/hooks/check.py"\n[[hooks.stop]]\ncommand = "sh hooks/later.sh"\n';

  it("lists the files and the script directories for the protection policy", async () => {
    const dir = await project(HOOKED, { "prompts/s.md": "sys", "tools/hooks/check.py": "print()" });
    const m = await loadManifest(path.join(dir, "pod.toml"));
    const pins = await pinTrustedInputs({ manifest: m, runtimeDir: path.join(dir, ".pod") });
    const root = m.scopeRoot!;
    expect(pins.files()).toEqual(expect.arrayContaining([m.file, path.join(dir, "prompts/s.md"), path.join(root, "tools/hooks/check.py"), path.join(root, "hooks/later.sh")]));
    expect(pins.directories()).toEqual(expect.arrayContaining([path.join(root, "tools/hooks"), path.join(root, "hooks")]));
    expect(pins.directories()).not.toContain(root);
    expect(pins.verify()).toBeUndefined();
  });

  it("sees content changes (even with mtime put back), a swapped inode, a created missing script", async () => {
    const dir = await project(HOOKED, { "prompts/s.md": "sys", "tools/hooks/check.py": "print()" });
    const m = await loadManifest(path.join(dir, "pod.toml"));
    const pins = await pinTrustedInputs({ manifest: m, runtimeDir: path.join(dir, ".pod") });
    const prompt = path.join(dir, "prompts/s.md");
    const before = await stat(prompt);
    await writeFile(prompt, "SYS");
    await utimes(prompt, before.atime, before.mtime);
    expect(pins.verify()).toMatchObject({ code: "contract_changed" });
    expect(pins.verify()!.message).toMatch(/prompts\/s\.md .*system_prompt_file.* was changed/);
    await writeFile(prompt, "sys");
    // Same bytes again: touched, not changed.
    expect(pins.verify()).toBeUndefined();

    const script = path.join(dir, "tools/hooks/check.py");
    await writeFile(`${script}.new`, "print()");
    await rename(`${script}.new`, script);
    expect(pins.verify()!.message).toMatch(/check\.py .* was replaced by another file/);
    expect(pins.verify(path.join(m.scopeRoot!, "hooks/later.sh"))).toBeUndefined();

    await mkdir(path.join(dir, "hooks"));
    await writeFile(path.join(dir, "hooks/later.sh"), "touch pwned");
    expect(pins.verify(path.join(m.scopeRoot!, "hooks/later.sh"))!.message).toMatch(/did not exist at start and was created/);
  });

  it("refuses a system_prompt_file that leads into a denied file, and a hook script that is a FIFO", async () => {
    const dir = await project(HOOKED.replace('"prompts/s.md"', '"prompt.md"'), { ".env": "SECRET=1", "tools/hooks/check.py": "" });
    await symlink(".env", path.join(dir, "prompt.md"));
    const m = await loadManifest(path.join(dir, "pod.toml"));
    await expect(pinTrustedInputs({ manifest: m, runtimeDir: path.join(dir, ".pod") })).rejects.toMatchObject({ code: "invalid_manifest", message: expect.stringMatching(/deny/) });

    const dir2 = await project(HOOKED, { "prompts/s.md": "sys" });
    await mkdir(path.join(dir2, "tools/hooks"), { recursive: true });
    execFileSync("mkfifo", [path.join(dir2, "tools/hooks/check.py")]);
    const m2 = await loadManifest(path.join(dir2, "pod.toml"));
    await expect(pinTrustedInputs({ manifest: m2, runtimeDir: path.join(dir2, ".pod") })).rejects.toMatchObject({ code: "invalid_input", message: expect.stringMatching(/check\.py is a named pipe/) });
  });

  it("a zero-config manifest (no file) pins nothing and verifies", async () => {
    const dir = await project('[pod]\nname = "t"\n');
    const m = await loadManifest(path.join(dir, "pod.toml"));
    const pins = await pinTrustedInputs({ manifest: { ...m, source: undefined }, runtimeDir: path.join(dir, ".pod") });
    expect(pins.files()).toEqual([]);
    expect(pins.verify()).toBeUndefined();
  });

  it("warns when a script sits at the workspace root (its directory cannot be protected)", async () => {
    const dir = await project('[pod]\nname = "t"\n[scope]\nroot = "."\n[[hooks.stop]]\ncommand = "./guard.sh"\n', { "guard.sh": "exit 0" });
    const m = await loadManifest(path.join(dir, "pod.toml"));
    const pins = await pinTrustedInputs({ manifest: m, runtimeDir: path.join(dir, ".pod") });
    expect(pins.directories()).toEqual([]);
    expect(pins.warnings.join("\n")).toMatch(/guard\.sh is at the workspace root/);
  });
});
