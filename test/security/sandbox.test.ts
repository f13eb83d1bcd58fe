// Bash's containment, attacked with the real sandbox (bubblewrap). There is no skip:
// on a machine without a working bwrap these tests fail, as they must (.ci/run installs it).
import { execFileSync } from "node:child_process";
import { existsSync } from "node:fs";
import { mkdir, readFile, writeFile } from "node:fs/promises";
import http from "node:http";
import type { AddressInfo } from "node:net";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { detectSandbox } from "../../src/sandbox/detect.js";
import { OUTPUT_CAP_CHARS } from "../../src/tools/text.js";
import type { BashConfig } from "../../src/tools/types.js";
import { sandbox, tools, type Sandbox } from "../tools/helpers.js";
import { eventually } from "../helpers/wait.js";

const KEY = "sk-ant-api03-sandbox-test-secret";
const TOKEN = "ghp_sandbox_test_token";
let sb: Sandbox;
let server: http.Server;
let port: number;

beforeAll(async () => {
  process.env.ANTHROPIC_API_KEY = KEY;
  process.env.GITHUB_TOKEN = TOKEN;
  sb = await sandbox({
    "hello.txt": "hi\n",
    "pod.toml": "[pod]\nname = \"x\"\n",
    ".git/config": "[core]\n",
    ".pod/x/status.json": "{\"secret\":\"runtime\"}\n",
    ".pod/x/.env.session": "inside the runtime dir\n",
    ".env": "DB_PASSWORD=hunter2\n",
    "config/.env.local": "API=hunter3\n",
    "test/a.test.mjs": "import test from 'node:test';\ntest('one', () => {});\n",
  });
  server = http.createServer((_req, res) => res.end("hello from the host\n"));
  await new Promise<void>((r) => server.listen(0, "127.0.0.1", () => r()));
  port = (server.address() as AddressInfo).port;
});
afterAll(async () => {
  delete process.env.ANTHROPIC_API_KEY;
  delete process.env.GITHUB_TOKEN;
  await new Promise((r) => server.close(r));
});

const bash = (bashOpts: Partial<BashConfig>) =>
  tools(sb.root, {
    deny: [".env*"],
    readOnly: [path.join(sb.root, "pod.toml"), path.join(sb.root, ".git")],
    hidden: [path.join(sb.root, ".pod")],
    bash: { enabled: true, allow: ["bash -c *", "cat *"], timeout_s: 20, ...bashOpts },
  }).then((t) => (command: string) => t.Bash!({ command }));

describe("the sandbox is there", () => {
  it("bubblewrap starts on this machine (a test machine without it fails here, it does not skip)", async () => {
    expect(await detectSandbox("required")).toEqual({ ok: true, kind: "bwrap" });
  });
});

describe("the key and the environment", () => {
  it("cat /proc/1/environ, /proc/$PPID/environ and pod's own /proc entry show no key", async () => {
    const run = await bash({});
    for (const cmd of ["cat /proc/1/environ", `cat /proc/${process.pid}/environ`, "bash -c 'cat /proc/$PPID/environ; cat /proc/*/environ; env'"]) {
      const r = await run(cmd);
      expect(r.output).not.toContain(KEY);
      expect(r.output).not.toContain(TOKEN);
    }
    expect((await run(`cat /proc/${process.pid}/environ`)).output).toMatch(/No such file/);
  });

  it("gets a minimal base plus the names in env, never the credential even when named", async () => {
    process.env.MY_SETTING = "visible";
    const r = await (await bash({ env: ["MY_SETTING", "ANTHROPIC_API_KEY"] }))("bash -c env");
    delete process.env.MY_SETTING;
    expect(r.output).toContain("MY_SETTING=visible");
    expect(r.output).not.toContain(KEY);
    expect(r.output).not.toContain("GITHUB_TOKEN");
    const names = r.output.split("\n").filter((l) => /^[A-Z_]+=/.test(l)).map((l) => l.split("=")[0]).sort();
    expect(names).toEqual(["CI", "HOME", "LANG", "MY_SETTING", "PATH", "PWD", "SHLVL", "TERM", "TMPDIR", "_"].sort());
  });
});

describe("the allowlist is parsed", () => {
  it("refuses ${x@P}, $(…), backticks, process substitution, here-docs and chaining under a * pattern", async () => {
    const marker = path.join(sb.root, "pwned");
    const run = await bash({ allow: ["npx vitest run *", "cat *"] });
    for (const cmd of [
      "npx vitest run ${x@P}",
      "npx vitest run x${IFS}y",
      `npx vitest run $(touch ${marker})`,
      `npx vitest run \`touch ${marker}\``,
      `cat <(touch ${marker})`,
      `cat $((1+1))`,
      `cat <<EOF\nx\nEOF`,
      `cat hello.txt; touch ${marker}`,
      `cat hello.txt && touch ${marker}`,
      `cat hello.txt | touch ${marker}`,
      `cat hello.txt > ${marker}`,
      `cat hello.txt\ntouch ${marker}`,
      "cat ~/x",
      "cat *",
    ]) {
      const r = await run(cmd);
      expect(r.isError, cmd).toBe(true);
      expect(r.output, cmd).toMatch(/^Command not allowed/);
    }
    expect(existsSync(marker)).toBe(false);
  });
});

describe("the filesystem", () => {
  it("writes outside the scope fail: the outside dir, /var/tmp, pod's HOME", async () => {
    const run = await bash({});
    const home = process.env.HOME ?? "/root";
    const r = await run(`bash -c 'echo x > ${sb.outside}/w.txt; echo x > /var/tmp/pod-sbx-${process.pid}; echo x > ${home}/pod-sbx-${process.pid}; echo done'`);
    expect(r.output).toMatch(/done/);
    expect(existsSync(path.join(sb.outside, "w.txt"))).toBe(false);
    expect(existsSync(`/var/tmp/pod-sbx-${process.pid}`)).toBe(false);
    expect(existsSync(`${home}/pod-sbx-${process.pid}`)).toBe(false);
  });

  it("writes to the manifest, .git and the runtime dir fail; the runtime dir is unreadable", async () => {
    const run = await bash({});
    const r = await run(
      "bash -c 'echo evil > pod.toml; echo evil >> .git/config; mkdir -p .git/hooks && echo evil > .git/hooks/pre-commit; cat .pod/x/status.json; echo evil > .pod/x/status.json; rm -rf .pod .git pod.toml; ls -a .pod; echo done'",
    );
    expect(r.output).toMatch(/done/);
    expect(r.output).not.toContain("runtime");
    expect(await readFile(path.join(sb.root, "pod.toml"), "utf8")).toBe('[pod]\nname = "x"\n');
    expect(await readFile(path.join(sb.root, ".git/config"), "utf8")).toBe("[core]\n");
    expect(existsSync(path.join(sb.root, ".git/hooks"))).toBe(false);
    expect(await readFile(path.join(sb.root, ".pod/x/status.json"), "utf8")).toBe('{"secret":"runtime"}\n');
    // .git stays readable (SPEC): only its writes are refused.
    expect((await run("cat .git/config")).output).toContain("[core]");
  });

  it("reading a denied file fails, at any depth, and its content never shows", async () => {
    const run = await bash({});
    for (const cmd of ["cat .env", "cat config/.env.local", "bash -c 'grep -r hunter . ; cat .e*'"]) {
      const r = await run(cmd);
      expect(r.output).not.toMatch(/hunter/);
    }
  });

  it("reads and writes the workspace, and /tmp is private", async () => {
    const run = await bash({});
    const r = await run("bash -c 'cat hello.txt && echo made > made.txt && echo t > /tmp/t && cat /tmp/t && echo $HOME'");
    expect(r.output).toBe("hi\nt\n/tmp/home\n[exit code: 0]");
    expect(await readFile(path.join(sb.root, "made.txt"), "utf8")).toBe("made\n");
    expect(existsSync("/tmp/t") && (await readFile("/tmp/t", "utf8")) === "t\n").toBe(false);
  });

  it("runs node --test in the workspace and returns its output", async () => {
    const r = await (await bash({ allow: ["node --test *"] }))("node --test test/");
    expect(r.isError).toBe(false);
    expect(r.output).toMatch(/# pass 1/);
    expect(r.output).toMatch(/\[exit code: 0\]$/);
  });
});

describe("the network", () => {
  const curl = (url: string, extra = "") => `bash -c 'curl -sS -m 5 ${extra} ${url} 2>&1; echo'`;

  it("is off by default: not even the host's loopback is reachable", async () => {
    const r = await (await bash({}))(curl(`http://127.0.0.1:${port}/`));
    expect(r.output).not.toContain("hello from the host");
    expect(r.output).toMatch(/Failed to connect|Couldn't connect|Connection refused/);
  });

  it("network = [hosts]: a listed host is reached through pod's proxy (plain and CONNECT)", async () => {
    const run = await bash({ network: ["127.0.0.1"] });
    expect((await run(curl(`http://127.0.0.1:${port}/`))).output).toContain("hello from the host");
    expect((await run(curl(`http://127.0.0.1:${port}/`, "--proxytunnel"))).output).toContain("hello from the host");
  });

  it("network = [hosts]: a host not on the list is refused by the proxy", async () => {
    const run = await bash({ network: ["registry.npmjs.org"] });
    const plain = await run(curl(`http://127.0.0.1:${port}/`));
    expect(plain.output).not.toContain("hello from the host");
    expect(plain.output).toContain("not in [tools.bash] network");
    const tunnel = await run(curl(`http://127.0.0.1:${port}/`, "--proxytunnel"));
    expect(tunnel.output).not.toContain("hello from the host");
    expect(tunnel.output).toMatch(/403/);
    // Around the proxy there is no way out: a direct connection has no network at all.
    const direct = await run(curl(`http://127.0.0.1:${port}/`, "--noproxy '*'"));
    expect(direct.output).not.toContain("hello from the host");
  });
});

describe("process lifetime", () => {
  const alive = (marker: string) => execFileSync("ps", ["-eo", "args"], { encoding: "utf8" }).split("\n").some((l) => l.includes(marker));
  const detaching = (marker: string) =>
    `bash -c 'setsid bash -c "exec -a ${marker}-setsid sleep 300" & (bash -c "exec -a ${marker}-fork sleep 300" &) ; echo started; sleep 300'`;

  // The children sleep 300 s, past the test's timeout: the call returns (and the test
  // passes) only if the tool killed them, so no wall-clock bound is needed.
  it("setsid and double-forked children end at the timeout", async () => {
    const marker = `pod-sbx-timeout-${process.pid}`;
    const r = await (await bash({ timeout_s: 2 }))(detaching(marker));
    expect(r.isError).toBe(true);
    expect(r.output).toMatch(/started\n\[command timed out after 2s; all its processes were killed\]/);
    expect(await eventually(() => !alive(`${marker}-setsid`) && !alive(`${marker}-fork`))).toBe(true);
  });

  it("setsid and double-forked children end on cancel", async () => {
    const marker = `pod-sbx-cancel-${process.pid}`;
    const t = await tools(sb.root, { bash: { enabled: true, allow: ["bash -c *"], timeout_s: 60 } });
    const controller = new AbortController();
    const call = t.box.tools.find((x) => x.name === "Bash")!.run({ command: detaching(marker) }, { signal: controller.signal });
    // Cancel once both children run (not after a guessed 1.5 s a loaded machine may outlast).
    expect(await eventually(() => alive(`${marker}-setsid`) && alive(`${marker}-fork`))).toBe(true);
    controller.abort();
    const r = await call;
    expect(r.output).toMatch(/cancelled; all its processes were killed/);
    expect(await eventually(() => !alive(`${marker}-setsid`) && !alive(`${marker}-fork`))).toBe(true);
  });
});

describe("the output cap", () => {
  const body = (out: string) => out.replace(/\n\[… \d+ characters of output omitted[^\]]*\]\n/, "").replace(/\[exit code: \d+\]$/, "");

  it("keeps exactly 50,000 characters of a longer output, head and tail, and says truncated", async () => {
    const r = await (await bash({ allow: ["seq *"] }))("seq 1 200000");
    expect(r.truncated).toBe(true);
    expect(body(r.output)).toHaveLength(OUTPUT_CAP_CHARS);
    expect(r.output).toMatch(/^1\n2\n3\n/);
    expect(r.output).toMatch(/199999\n200000\n\[exit code: 0\]$/);
  });

  it("returns an output of exactly 50,000 characters whole, not truncated", async () => {
    const exact = `${"é".repeat(OUTPUT_CAP_CHARS - 1)}\n`;
    await writeFile(path.join(sb.root, "exact.txt"), exact);
    const r = await (await bash({}))("cat exact.txt");
    expect(r.truncated).toBe(false);
    expect(body(r.output)).toBe(exact);
  });
});

describe("fail closed", () => {
  it("without a working bwrap, Bash is refused with sandbox_unavailable naming the fix, and nothing runs", async () => {
    const marker = path.join(sb.root, "ran-unconfined");
    await mkdir(path.dirname(marker), { recursive: true });
    process.env.POD_BWRAP = "/nonexistent/bwrap";
    try {
      const r = await (await bash({}))(`bash -c 'touch ${marker}'`);
      expect(r.isError).toBe(true);
      expect(r.output).toMatch(/^sandbox_unavailable: /);
      expect(r.output).toContain("apt-get install bubblewrap");
      expect(r.output).toContain('sandbox = "off"');
    } finally {
      delete process.env.POD_BWRAP;
    }
    expect(existsSync(marker)).toBe(false);
  });
});
