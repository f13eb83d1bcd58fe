import { execFileSync } from "node:child_process";
import { open, readFile, stat, writeFile } from "node:fs/promises";
import net from "node:net";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { ScopeConfig } from "../../src/tools/types.js";
import { sandbox, tools, type Sandbox } from "../tools/helpers.js";
import { runToolInChild } from "./child.js";

/**
 * No tool can stall pod (SPEC "Containment"): a FIFO blocks open() until a writer
 * comes, a device never ends, a 100 MB single line used to cost ~1 GB and ~50 s.
 * Each call runs in a child process with a hang guard, so a hang fails the test.
 */
let sb: Sandbox;
let scope: ScopeConfig;
let server: net.Server;
/**
 * Devices cannot be made without CAP_MKNOD, so they are tested through the ones every
 * Linux has: a scope rooted at /dev, where `zero` and `urandom` are real character
 * devices. FIFOs and sockets can be made by anyone, inside the test's own scope.
 */
const devScope: ScopeConfig = { root: "/dev", deny: [], readOnly: [], hidden: [] };

beforeAll(async () => {
  sb = await sandbox({ "ok.txt": "fine\n" });
  scope = { root: sb.root, deny: [], readOnly: [], hidden: [] };
  execFileSync("mkfifo", [path.join(sb.root, "fifo")]);
  server = net.createServer();
  await new Promise<void>((resolve) => server.listen(path.join(sb.root, "sock"), resolve));
  for (const d of ["zero", "urandom"]) expect((await stat(path.join("/dev", d))).isCharacterDevice(), `/dev/${d}`).toBe(true);
});

afterAll(() => {
  server?.close();
});

describe("Read refuses what is not a regular file, without blocking", () => {
  it("a FIFO: returns promptly with an error, instead of waiting for a writer forever", async () => {
    const { result } = await runToolInChild(scope, "Read", { path: "fifo" }, 20_000);
    expect(result.isError).toBe(true);
    expect(result.output).toMatch(/named pipe \(FIFO\)/);
  });

  it("a FIFO cannot be Edited or Written either (and is not touched)", async () => {
    const e = await runToolInChild(scope, "Edit", { path: "fifo", old_string: "a", new_string: "b" }, 20_000);
    expect(e.result.isError).toBe(true);
    const w = await runToolInChild(scope, "Write", { path: "fifo", content: "x" }, 20_000);
    expect(w.result.isError).toBe(true);
    expect((await stat(path.join(sb.root, "fifo"))).isFIFO()).toBe(true);
  });

  it("a socket", async () => {
    const { result } = await runToolInChild(scope, "Read", { path: "sock" }, 20_000);
    expect(result.isError).toBe(true);
    expect(result.output).toMatch(/socket/);
  });

  it("a character device (/dev/zero, /dev/urandom, which never end): refused at once, not read", async () => {
    for (const p of ["zero", "urandom"]) {
      const { result } = await runToolInChild(devScope, "Read", { path: p }, 20_000);
      expect(result.isError, p).toBe(true);
      expect(result.output).toMatch(/character device/);
    }
  });

  it("a device cannot be Edited or Written either", async () => {
    const e = await runToolInChild(devScope, "Edit", { path: "zero", old_string: "a", new_string: "b" }, 20_000);
    expect(e.result.isError).toBe(true);
    const w = await runToolInChild(devScope, "Write", { path: "null", content: "x" }, 20_000);
    expect(w.result.isError).toBe(true);
    expect(w.result.output).toMatch(/character device/);
  });

  it("Grep pointed straight at a device returns instead of reading it forever", async () => {
    const g = await runToolInChild(devScope, "Grep", { pattern: "x", path: "zero" }, 20_000);
    expect(g.result.output).toBe("No matches for x.");
  });

  it("Glob and Grep walk past a FIFO and a socket without opening them", async () => {
    const g = await runToolInChild(scope, "Grep", { pattern: "fine" }, 20_000);
    expect(g.result.output).toBe("ok.txt");
    const gl = await runToolInChild(scope, "Glob", { pattern: "*" }, 20_000);
    expect(gl.result.output).toBe("ok.txt");
  });
});

describe("Read's memory and time stay bounded on a huge single line", () => {
  const MB = 1024 * 1024;
  let big: string;
  beforeAll(async () => {
    big = path.join(sb.root, "big.txt");
    const fh = await open(big, "w");
    await fh.write("first\n");
    const block = Buffer.alloc(MB, "x");
    for (let i = 0; i < 100; i++) await fh.write(block);
    await fh.write("\nlast line\n");
    await fh.close();
  }, 60_000);

  it("offset past the 100 MB line: bounded memory, the next line comes back", async () => {
    const { result, maxRssKb } = await runToolInChild(scope, "Read", { path: "big.txt", offset: 3 }, 45_000);
    expect(result.isError).toBe(false);
    expect(result.output).toMatch(/^\s+3\tlast line$/);
    // The file is 100 MB; a reader that held the line would need at least that (it used ~1 GB).
    expect(maxRssKb / 1024).toBeLessThan(250);
  });

  it("reading the huge line itself: cut with a visible marker, bounded memory", async () => {
    const { result, maxRssKb } = await runToolInChild(scope, "Read", { path: "big.txt", offset: 2, limit: 1 }, 45_000);
    expect(result.isError).toBe(false);
    expect(result.truncated).toBe(true);
    expect(result.output).toContain("x".repeat(2000) + "…");
    expect(result.output).not.toContain("x".repeat(2001));
    expect(result.output).toMatch(/long line\(s\) were cut at 2000 characters/);
    expect(result.output).toMatch(/Read again with offset=3/);
    expect(maxRssKb / 1024).toBeLessThan(250);
  });

  it("an Edit of a file that large is refused instead of loaded", async () => {
    const t = await tools(sb.root);
    await t.Read!({ path: "big.txt" });
    const e = await t.Edit!({ path: "big.txt", old_string: "last line", new_string: "changed" });
    expect(e.isError).toBe(true);
    expect(e.output).toMatch(/Use Write/);
    expect((await readFile(big)).subarray(-10).toString()).toBe("last line\n");
  });

  it("multi-byte characters are not split at the cut, lines after offset still count", async () => {
    const f = path.join(sb.root, "wide.txt");
    await writeFile(f, "a\n" + "é".repeat(5000) + "\nb\r\nc");
    const t = await tools(sb.root);
    const r = await t.Read!({ path: "wide.txt" });
    expect(r.output).toContain("é".repeat(2000) + "…");
    expect(r.output).not.toContain("\uFFFD");
    expect(r.output).toMatch(/\s3\tb\n\s+4\tc\n/);
    expect((await t.Read!({ path: "wide.txt", offset: 9 })).output).toBe("wide.txt has 4 lines; offset 9 is past the end.");
  });
});
