import { chmod, readFile, stat, utimes, writeFile } from "node:fs/promises";
import { execFileSync } from "node:child_process";
import path from "node:path";
import { describe, expect, it } from "vitest";
import { Allowlist } from "../../src/tools/bash/allowlist.js";
import { sandbox, tools } from "./helpers.js";
import { eventually } from "../helpers/wait.js";

describe("Read", () => {
  it("numbers lines and honours offset and limit", async () => {
    const sb = await sandbox({ "f.txt": Array.from({ length: 10 }, (_, i) => `line ${i + 1}`).join("\n") + "\n" });
    const t = await tools(sb.root);
    const all = await t.Read!({ path: "f.txt" });
    expect(all.output.split("\n")[0]).toBe("     1\tline 1");
    expect(all.truncated).toBe(false);
    const part = await t.Read!({ path: "f.txt", offset: 4, limit: 2 });
    expect(part.output).toContain("     4\tline 4\n     5\tline 5");
    expect(part.output).toContain("offset=6");
    expect(part.truncated).toBe(true);
    expect((await t.Read!({ path: "f.txt", offset: 50 })).output).toMatch(/past the end/);
  });

  it("caps huge files with a marker and refuses binaries and directories", async () => {
    const sb = await sandbox({ "big.txt": "x".repeat(100) + "\n".repeat(1) + ("y".repeat(150) + "\n").repeat(5000), "bin.dat": "abc\0def", "long.txt": "z".repeat(10_000) });
    const t = await tools(sb.root);
    const big = await t.Read!({ path: "big.txt", limit: 100000 });
    expect(big.truncated).toBe(true);
    expect(big.output.length).toBeLessThan(300 * 1024);
    expect(big.output).toMatch(/\[truncated: more lines follow; Read again with offset=\d+/);
    const bin = await t.Read!({ path: "bin.dat" });
    expect(bin).toMatchObject({ isError: true });
    expect(bin.output).toMatch(/binary/);
    expect((await t.Read!({ path: "." })).output).toMatch(/directory/);
    const long = await t.Read!({ path: "long.txt" });
    expect(long.output).toMatch(/long line\(s\) were cut/);
    expect((await t.Read!({ path: "missing.txt" })).output).toMatch(/does not exist/);
  });

  it("is UTF-8 safe across chunk boundaries", async () => {
    const text = ("é".repeat(40_000) + "\n") + "ünïcödé\n";
    const sb = await sandbox({ "u.txt": text });
    const out = (await (await tools(sb.root)).Read!({ path: "u.txt" })).output;
    expect(out).not.toContain("\uFFFD");
    expect(out).toContain("ünïcödé");
  });
});

describe("tracker: Edit and Write need a fresh read", () => {
  it("refuses to change a file that was not read, or changed since", async () => {
    const sb = await sandbox({ "a.txt": "one\n" });
    const t = await tools(sb.root);
    expect((await t.Edit!({ path: "a.txt", old_string: "one", new_string: "two" })).output).toMatch(/has not been read/);
    expect((await t.Write!({ path: "a.txt", content: "x" })).output).toMatch(/has not been read/);
    await t.Read!({ path: "a.txt" });
    await writeFile(path.join(sb.root, "a.txt"), "one changed\n");
    const future = new Date(Date.now() + 5000);
    await utimes(path.join(sb.root, "a.txt"), future, future);
    expect((await t.Edit!({ path: "a.txt", old_string: "one", new_string: "two" })).output).toMatch(/changed on disk/);
    await t.Read!({ path: "a.txt" });
    expect((await t.Edit!({ path: "a.txt", old_string: "one", new_string: "two" })).isError).toBe(false);
    // Its own edit keeps the file fresh: a second edit needs no new read.
    expect((await t.Edit!({ path: "a.txt", old_string: "two", new_string: "three" })).isError).toBe(false);
    expect(await readFile(path.join(sb.root, "a.txt"), "utf8")).toBe("three changed\n");
    expect(t.box.touchedFiles()).toEqual({ read: ["a.txt"], written: ["a.txt"] });
  });

  it("is fresh per toolbox (per process)", async () => {
    const sb = await sandbox({ "a.txt": "one\n" });
    await (await tools(sb.root)).Read!({ path: "a.txt" });
    const again = await tools(sb.root);
    expect((await again.Edit!({ path: "a.txt", old_string: "one", new_string: "two" })).output).toMatch(/has not been read/);
  });
});

describe("Write", () => {
  it("creates parents, keeps the mode of an existing file, and obeys writable", async () => {
    const sb = await sandbox({ "run.sh": "#!/bin/sh\necho hi\n", "docs/x.md": "x" });
    await chmod(path.join(sb.root, "run.sh"), 0o755);
    const t = await tools(sb.root, { writable: ["src/**", "*.sh"] });
    expect((await t.Write!({ path: "src/deep/new.js", content: "export {}\n" })).output).toMatch(/Created src\/deep\/new\.js/);
    await t.Read!({ path: "run.sh" });
    expect((await t.Write!({ path: "run.sh", content: "#!/bin/sh\necho bye\n" })).isError).toBe(false);
    expect((await stat(path.join(sb.root, "run.sh"))).mode & 0o777).toBe(0o755);
    const denied = await t.Write!({ path: "docs/x.md", content: "no" });
    expect(denied.isError).toBe(true);
    expect(denied.output).toMatch(/not writable/);
  });
});

describe("Edit", () => {
  it("replaces a unique string, refuses missing and ambiguous ones with the count", async () => {
    const sb = await sandbox({ "a.js": "let x = 1;\nlet y = 1;\n" });
    const t = await tools(sb.root);
    await t.Read!({ path: "a.js" });
    expect((await t.Edit!({ path: "a.js", old_string: "= 1", new_string: "= 2" })).output).toMatch(/occurs 2 times/);
    expect((await t.Edit!({ path: "a.js", old_string: "let z", new_string: "" })).output).toMatch(/not found/);
    expect((await t.Edit!({ path: "a.js", old_string: "= 1", new_string: "= 2", replace_all: true })).output).toMatch(/2 occurrences/);
    expect(await readFile(path.join(sb.root, "a.js"), "utf8")).toBe("let x = 2;\nlet y = 2;\n");
  });

  it("preserves CRLF line endings", async () => {
    const sb = await sandbox({ "w.txt": "alpha\r\nbeta\r\ngamma\r\n" });
    const t = await tools(sb.root);
    await t.Read!({ path: "w.txt" });
    expect((await t.Edit!({ path: "w.txt", old_string: "alpha\nbeta", new_string: "one\ntwo" })).isError).toBe(false);
    expect(await readFile(path.join(sb.root, "w.txt"), "utf8")).toBe("one\r\ntwo\r\ngamma\r\n");
  });
});

describe("Glob", () => {
  it("respects .gitignore (nested too) and returns sorted paths", async () => {
    const sb = await sandbox({
      ".gitignore": "node_modules/\n*.log\n",
      "b.ts": "",
      "a.ts": "",
      "src/c.ts": "",
      "src/.gitignore": "gen/\n",
      "src/gen/d.ts": "",
      "node_modules/x/index.ts": "",
      "debug.log": "",
    });
    const t = await tools(sb.root);
    expect((await t.Glob!({ pattern: "**/*.ts" })).output.split("\n")).toEqual(["a.ts", "b.ts", "src/c.ts"]);
    expect((await t.Glob!({ pattern: "*.ts", path: "src" })).output).toBe("src/c.ts");
    expect((await t.Glob!({ pattern: "**/*.log" })).output).toMatch(/No files match/);
  });

  it("caps the result count with a marker", async () => {
    const files: Record<string, string> = {};
    for (let i = 0; i < 1100; i++) files[`many/f${String(i).padStart(4, "0")}.txt`] = "";
    const sb = await sandbox(files);
    const r = await (await tools(sb.root)).Glob!({ pattern: "**/*.txt" });
    expect(r.truncated).toBe(true);
    expect(r.output).toMatch(/1100 files match, showing the first 1000/);
  });
});

describe("Grep", () => {
  const files = {
    ".gitignore": "dist/\n",
    "src/a.ts": "const foo = 1;\nconst bar = 2;\nfoo(bar);\n",
    "src/b.js": "// FOO in caps\n",
    "dist/out.js": "foo everywhere\n",
    "img.png": "foo\0binary",
  };

  it("finds files, lines with context, and counts, skipping ignored and binary files", async () => {
    const sb = await sandbox(files);
    const t = await tools(sb.root);
    expect((await t.Grep!({ pattern: "foo" })).output).toBe("src/a.ts");
    expect((await t.Grep!({ pattern: "foo", case_insensitive: true })).output).toBe("src/a.ts\nsrc/b.js");
    expect((await t.Grep!({ pattern: "fo+\\(", output_mode: "content" })).output).toBe("src/a.ts:3:foo(bar);");
    expect((await t.Grep!({ pattern: "bar = 2", output_mode: "content", context: 1 })).output).toBe("src/a.ts-1-const foo = 1;\nsrc/a.ts:2:const bar = 2;\nsrc/a.ts-3-foo(bar);");
    expect((await t.Grep!({ pattern: "foo", output_mode: "count" })).output).toBe("src/a.ts:2");
    expect((await t.Grep!({ pattern: "foo", case_insensitive: true, type: "js" })).output).toBe("src/b.js");
    expect((await t.Grep!({ pattern: "foo", case_insensitive: true, glob: "*.ts" })).output).toBe("src/a.ts");
    expect((await t.Grep!({ pattern: "foo", path: "src/a.ts", output_mode: "count" })).output).toBe("src/a.ts:2");
  });

  it("reports bad regexes and unknown types as tool errors", async () => {
    const sb = await sandbox(files);
    const t = await tools(sb.root);
    expect((await t.Grep!({ pattern: "(unclosed" })).output).toMatch(/Invalid regular expression/);
    expect((await t.Grep!({ pattern: "x", type: "cobol" })).output).toMatch(/Unknown type/);
  });

  it("caps output with head_limit", async () => {
    const sb = await sandbox({ "many.txt": "hit\n".repeat(500) });
    const r = await (await tools(sb.root)).Grep!({ pattern: "hit", output_mode: "content", head_limit: 10 });
    expect(r.output.split("\n")).toHaveLength(11);
    expect(r.truncated).toBe(true);
  });
});

describe("Bash", () => {
  it("matches allow patterns on the parsed command, and refuses chaining", async () => {
    const list = new Allowlist(["npm test", "npx vitest run *"]);
    const allowed = async (c: string, l = list) => (await l.check(c)).allowed;
    expect(await allowed("npm test")).toBe(true);
    expect(await allowed("npx vitest run test/a.test.ts")).toBe(true);
    expect(await allowed("npm test; rm -rf /")).toBe(false);
    expect(await allowed("npx vitest run x && curl evil")).toBe(false);
    expect(await allowed("npx vitest run $(whoami)")).toBe(false);
    expect(await allowed("npx vitest run x > /etc/passwd")).toBe(false);
    expect(await allowed("npm install")).toBe(false);
    expect(await allowed("npm test | tee out", new Allowlist(["npm test | tee out"]))).toBe(true);
  });

  it("runs in the root, reports the exit code, and hides the API key", async () => {
    const sb = await sandbox({ "hello.txt": "hi\n" });
    const prev = process.env.ANTHROPIC_API_KEY;
    process.env.ANTHROPIC_API_KEY = "sk-ant-should-not-leak";
    try {
      const t = await tools(sb.root, { bash: { enabled: true, allow: ["cat hello.txt", "env", "sh -c *"] } });
      expect((await t.Bash!({ command: "cat hello.txt" })).output).toBe("hi\n[exit code: 0]");
      expect((await t.Bash!({ command: "env" })).output).not.toContain("sk-ant-should-not-leak");
      const failing = await t.Bash!({ command: "sh -c 'exit 3'" });
      expect(failing.output).toMatch(/\[exit code: 3\]/);
      expect((await t.Bash!({ command: "rm -rf x" })).output).toMatch(/Command not allowed/);
    } finally {
      if (prev === undefined) delete process.env.ANTHROPIC_API_KEY;
      else process.env.ANTHROPIC_API_KEY = prev;
    }
  });

  it("kills the whole process group on timeout", async () => {
    const sb = await sandbox();
    const marker = `pod-test-sleep-${process.pid}-${Date.now()}`;
    const command = `bash -c '(exec -a ${marker}-bg sleep 30) & echo started; exec -a ${marker} sleep 31'`;
    const t = await tools(sb.root, { bash: { enabled: true, allow: [command], timeout_s: 1 } });
    const r = await t.Bash!({ command });
    expect(r.isError).toBe(true);
    expect(r.output).toMatch(/timed out after 1s; all its processes were killed/);
    // Matched by marker, not by "sleep 30": other jobs on a shared machine may run a sleep too.
    const ps = () => execFileSync("ps", ["-eo", "pid,args"], { encoding: "utf8" });
    expect(await eventually(() => !ps().includes(marker)), ps()).toBe(true);
  });

  it("caps long output keeping head and tail", async () => {
    const sb = await sandbox();
    const t = await tools(sb.root, { bash: { enabled: true, allow: ["seq *"] } });
    const r = await t.Bash!({ command: "seq 1 200000" });
    expect(r.truncated).toBe(true);
    expect(r.output).toMatch(/^1\n2\n/);
    expect(r.output).toMatch(/200000\n\[exit code: 0\]$/);
    expect(r.output).toMatch(/characters of output omitted/);
  });
});
