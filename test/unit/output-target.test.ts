import { mkdir, mkdtemp, readdir, readFile, rename, rm, symlink } from "node:fs/promises";
import { tmpdir } from "node:os";
import path from "node:path";
import { describe, expect, it } from "vitest";
import { resolveOutputTarget, writeOutputTarget } from "../../src/store/output-target.js";

describe("output targets (-o, later --diff/--sarif)", () => {
  it("writes atomically into the directory resolved at start", async () => {
    const dir = await mkdtemp(path.join(tmpdir(), "pod-out-"));
    const t = await resolveOutputTarget(path.join(dir, "a.md"), "-o");
    await writeOutputTarget(t, "one");
    await writeOutputTarget(t, "two");
    expect(await readFile(path.join(dir, "a.md"), "utf8")).toBe("two");
    expect(await readdir(dir)).toEqual(["a.md"]);
  });

  it("refuses when the directory was swapped for another one (or a link) after start", async () => {
    const dir = await mkdtemp(path.join(tmpdir(), "pod-out-"));
    const elsewhere = await mkdtemp(path.join(tmpdir(), "pod-else-"));
    await mkdir(path.join(dir, "reports"));
    const t = await resolveOutputTarget(path.join(dir, "reports/s.md"), "-o");
    await rename(path.join(dir, "reports"), path.join(dir, "reports.orig"));
    await mkdir(path.join(dir, "reports"));
    await expect(writeOutputTarget(t, "x")).rejects.toMatchObject({ code: "contract_changed" });
    await rm(path.join(dir, "reports"), { recursive: true });
    await symlink(elsewhere, path.join(dir, "reports"));
    await expect(writeOutputTarget(t, "x")).rejects.toMatchObject({ code: "contract_changed" });
    expect(await readdir(elsewhere)).toEqual([]);
  });

  it("replaces, never follows, a link planted at the target's name", async () => {
    const dir = await mkdtemp(path.join(tmpdir(), "pod-out-"));
    const elsewhere = await mkdtemp(path.join(tmpdir(), "pod-else-"));
    const t = await resolveOutputTarget(path.join(dir, "a.md"), "-o");
    await symlink(path.join(elsewhere, "victim"), path.join(dir, "a.md"));
    await writeOutputTarget(t, "answer");
    expect(await readdir(elsewhere)).toEqual([]);
    expect(await readFile(path.join(dir, "a.md"), "utf8")).toBe("answer");
  });

  it("refuses at start a target that is a symlink, a directory, or in a missing directory", async () => {
    const dir = await mkdtemp(path.join(tmpdir(), "pod-out-"));
    await symlink("/etc/passwd", path.join(dir, "l.md"));
    await mkdir(path.join(dir, "d"));
    await expect(resolveOutputTarget(path.join(dir, "l.md"), "-o")).rejects.toMatchObject({ code: "invalid_input", message: expect.stringMatching(/symlink/) });
    await expect(resolveOutputTarget(path.join(dir, "d"), "-o")).rejects.toMatchObject({ code: "invalid_input", message: expect.stringMatching(/not a regular file/) });
    await expect(resolveOutputTarget(path.join(dir, "nope/x.md"), "-o")).rejects.toMatchObject({ code: "invalid_input", message: expect.stringMatching(/does not exist/) });
  });
});
