import { mkdir, readFile, stat, symlink, writeFile } from "node:fs/promises";
import path from "node:path";
import { beforeAll, describe, expect, it } from "vitest";
import { sandbox, tools, type Sandbox } from "./helpers.js";

/**
 * Every path here must be refused for reading AND writing, and nothing outside
 * the root may be read or changed. The corpus is built on a real filesystem
 * with real symlinks.
 */
let sb: Sandbox;
let t: Awaited<ReturnType<typeof tools>>;

beforeAll(async () => {
  sb = await sandbox({ "ok.txt": "fine\n", "src/a.js": "a\n", ".env": "KEY=1\n", "config/.env.local": "KEY=2\n", ".git/config": "[core]\n", "secrets/key.pem": "PEM\n" });
  const r = sb.root;
  await symlink(sb.outside, path.join(r, "link-dir-out"));
  await symlink(path.join(sb.outside, "secret.txt"), path.join(r, "link-file-out"));
  await mkdir(path.join(r, "deep/a/b"), { recursive: true });
  await symlink("../../../../outside", path.join(r, "deep/a/b/up"));
  await symlink(path.join(r, "loop2"), path.join(r, "loop1"));
  await symlink(path.join(r, "loop1"), path.join(r, "loop2"));
  await symlink("/etc", path.join(r, "etc-link"));
  await symlink(path.join(r, "link-dir-out"), path.join(r, "chain-out"));
  await symlink(path.join(r, ".env"), path.join(r, "env-alias"));
  await symlink(path.join(r, "secrets"), path.join(r, "secrets-alias"));
  await symlink(path.join(sb.outside, "new-file.txt"), path.join(r, "dangling-out"));
  t = await tools(r, { deny: [".env*", ".git/**", "secrets/**"] });
});

const long = "a/".repeat(3000) + "x";
const corpus = (): string[] => [
  "../outside/secret.txt",
  "../../etc/passwd",
  "src/../../outside/secret.txt",
  "./././../outside/secret.txt",
  "src/../../../../../../../../etc/passwd",
  "..",
  "../",
  "/etc/passwd",
  path.join(sb.outside, "secret.txt"),
  `${sb.root}/../outside/secret.txt`,
  `${sb.root}-evil/file`,
  "link-dir-out/secret.txt",
  "link-file-out",
  "link-dir-out/new.txt",
  "deep/a/b/up/secret.txt",
  "deep/a/b/up/brand/new/file.txt",
  "loop1",
  "loop1/x",
  "etc-link/passwd",
  "chain-out/secret.txt",
  "dangling-out",
  ".env",
  ".ENV",
  "config/.env.local",
  "config/.Env.Local",
  "env-alias",
  ".git/config",
  "secrets/key.pem",
  "secrets-alias/key.pem",
  "SECRETS/key.pem".toLowerCase() === "secrets/key.pem" ? "secrets/../secrets/key.pem" : "secrets/key.pem",
  "ok.txt/child",
  "ok.txt/../../outside/secret.txt",
  "ok\0.txt",
  long,
  "x".repeat(300),
  "",
  "src/\u002e\u002e/\u002e\u002e/outside/secret.txt",
  "..\u2215outside\u2215secret.txt".replace(/\u2215/g, "/"),
];

describe("hostile paths", () => {
  it("has at least 30 cases", () => {
    expect(corpus().length).toBeGreaterThanOrEqual(30);
  });

  it("refuses every case for Read, and reads nothing from outside", async () => {
    for (const p of corpus()) {
      const r = await t.Read!({ path: p });
      expect(r.isError, `Read ${JSON.stringify(p).slice(0, 80)} should be refused, got: ${r.output.slice(0, 100)}`).toBe(true);
      expect(r.output).not.toContain("TOP-SECRET");
      expect(r.output).not.toContain("KEY=");
      expect(r.output).not.toContain("root:");
    }
  });

  it("refuses every case for Write and Edit, and changes nothing outside", async () => {
    const before = await readFile(path.join(sb.outside, "secret.txt"), "utf8");
    for (const p of corpus()) {
      const w = await t.Write!({ path: p, content: "PWNED" });
      expect(w.isError, `Write ${JSON.stringify(p).slice(0, 80)} should be refused, got: ${w.output.slice(0, 100)}`).toBe(true);
      const e = await t.Edit!({ path: p, old_string: "TOP", new_string: "PWNED" });
      expect(e.isError, `Edit ${JSON.stringify(p).slice(0, 80)} should be refused`).toBe(true);
    }
    expect(await readFile(path.join(sb.outside, "secret.txt"), "utf8")).toBe(before);
    await expect(stat(path.join(sb.outside, "new.txt"))).rejects.toThrow();
    await expect(stat(path.join(sb.outside, "new-file.txt"))).rejects.toThrow();
    await expect(stat(path.join(sb.outside, "brand"))).rejects.toThrow();
    expect(await readFile(path.join(sb.root, ".env"), "utf8")).toBe("KEY=1\n");
  });

  it("never lists or greps denied or outside files", async () => {
    const g = await t.Glob!({ pattern: "**/*" });
    expect(g.output).not.toMatch(/\.env|\.git\/|secrets\/|secret\.txt|passwd/);
    const grep = await t.Grep!({ pattern: "KEY=|TOP-SECRET|PEM|core", output_mode: "content" });
    expect(grep.output).toBe("No matches for KEY=|TOP-SECRET|PEM|core.");
    for (const p of ["..", "link-dir-out", "secrets", "/etc"]) {
      expect((await t.Glob!({ pattern: "*", path: p })).isError).toBe(true);
      expect((await t.Grep!({ pattern: "x", path: p })).isError).toBe(true);
    }
  });

  it("still allows ordinary paths, including absolute ones inside the root", async () => {
    expect((await t.Read!({ path: "ok.txt" })).output).toContain("fine");
    expect((await t.Read!({ path: path.join(sb.root, "src/a.js") })).isError).toBe(false);
    const w = await t.Write!({ path: "new/dir/chain/file.txt", content: "hi\n" });
    expect(w.isError).toBe(false);
    expect(await readFile(path.join(sb.root, "new/dir/chain/file.txt"), "utf8")).toBe("hi\n");
    await writeFile(path.join(sb.root, "café.txt"), "unicode ok\n");
    expect((await t.Read!({ path: "café.txt" })).output).toContain("unicode ok");
  });
});
