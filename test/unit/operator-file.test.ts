import { execFileSync } from "node:child_process";
import { lstatSync } from "node:fs";
import { mkdir, mkdtemp, readdir, readFile, rename, rm, symlink } from "node:fs/promises";
import { tmpdir } from "node:os";
import path from "node:path";
import { describe, expect, it } from "vitest";
import { resolveOperatorFile, writeOperatorFile } from "../../src/store/operator-file.js";

describe("the operator's files (-o, --diff, --sarif)", () => {
  it("writes atomically into the directory resolved at start", async () => {
    const dir = await mkdtemp(path.join(tmpdir(), "pod-out-"));
    const t = resolveOperatorFile("-o", path.join(dir, "a.md"));
    await writeOperatorFile(t, "one");
    await writeOperatorFile(t, "two");
    expect(await readFile(path.join(dir, "a.md"), "utf8")).toBe("two");
    expect(await readdir(dir)).toEqual(["a.md"]);
  });

  it("refuses when the directory was swapped for another one (or a link) after start", async () => {
    const dir = await mkdtemp(path.join(tmpdir(), "pod-out-"));
    const elsewhere = await mkdtemp(path.join(tmpdir(), "pod-else-"));
    await mkdir(path.join(dir, "reports"));
    const t = resolveOperatorFile("-o", path.join(dir, "reports/s.md"));
    await rename(path.join(dir, "reports"), path.join(dir, "reports.orig"));
    await mkdir(path.join(dir, "reports"));
    await expect(writeOperatorFile(t, "x")).rejects.toMatchObject({ code: "contract_changed" });
    await rm(path.join(dir, "reports"), { recursive: true });
    await symlink(elsewhere, path.join(dir, "reports"));
    await expect(writeOperatorFile(t, "x")).rejects.toMatchObject({ code: "contract_changed" });
    expect(await readdir(elsewhere)).toEqual([]);
  });

  it("replaces, never follows, a link planted at the target's name", async () => {
    const dir = await mkdtemp(path.join(tmpdir(), "pod-out-"));
    const elsewhere = await mkdtemp(path.join(tmpdir(), "pod-else-"));
    const t = resolveOperatorFile("-o", path.join(dir, "a.md"));
    await symlink(path.join(elsewhere, "victim"), path.join(dir, "a.md"));
    await writeOperatorFile(t, "answer");
    expect(await readdir(elsewhere)).toEqual([]);
    expect(await readFile(path.join(dir, "a.md"), "utf8")).toBe("answer");
  });

  it("refuses at start a target that is a symlink, a directory, or in a missing directory", async () => {
    const dir = await mkdtemp(path.join(tmpdir(), "pod-out-"));
    await symlink("/etc/passwd", path.join(dir, "l.md"));
    await mkdir(path.join(dir, "d"));
    expect(() => resolveOperatorFile("-o", path.join(dir, "l.md"))).toThrow(expect.objectContaining({ code: "invalid_input", message: expect.stringMatching(/symlink/) }));
    expect(() => resolveOperatorFile("-o", path.join(dir, "d"))).toThrow(expect.objectContaining({ code: "invalid_input", message: expect.stringMatching(/not a regular file/) }));
    expect(() => resolveOperatorFile("-o", path.join(dir, "nope/x.md"))).toThrow(expect.objectContaining({ code: "invalid_input", message: expect.stringMatching(/does not exist/) }));
  });

  it("a FIFO at the target: refused at start; planted during the run, replaced without being opened (no hang)", async () => {
    const dir = await mkdtemp(path.join(tmpdir(), "pod-out-"));
    execFileSync("mkfifo", [path.join(dir, "early.md")]);
    expect(() => resolveOperatorFile("--diff", path.join(dir, "early.md"))).toThrow(expect.objectContaining({ code: "invalid_input", message: expect.stringMatching(/not a regular file/) }));
    const t = resolveOperatorFile("--diff", path.join(dir, "late.md"));
    execFileSync("mkfifo", [path.join(dir, "late.md")]);
    await writeOperatorFile(t, "patch");
    expect(lstatSync(path.join(dir, "late.md")).isFile()).toBe(true);
    expect(await readFile(path.join(dir, "late.md"), "utf8")).toBe("patch");
  });

  it("refuses when a directory above the target's was renamed away during the run (the path now names another place)", async () => {
    const dir = await mkdtemp(path.join(tmpdir(), "pod-out-"));
    await mkdir(path.join(dir, "out/reports"), { recursive: true });
    const t = resolveOperatorFile("--sarif", path.join(dir, "out/reports/r.sarif"));
    await rename(path.join(dir, "out"), path.join(dir, "moved"));
    await mkdir(path.join(dir, "out/reports"), { recursive: true });
    await expect(writeOperatorFile(t, "{}")).rejects.toMatchObject({ code: "contract_changed" });
    expect(await readdir(path.join(dir, "out/reports"))).toEqual([]);
    expect(await readdir(path.join(dir, "moved/reports"))).toEqual([]);
  });
});
