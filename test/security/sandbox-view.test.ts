// What Bash's sandbox shows of the host (issue 22, items 1 and 2): the system
// directories, the scope, a private /tmp and HOME, and what `[tools.bash] read` names —
// not the user's home, other workspaces, /run, the runner's temp, /etc's secrets, and
// no host socket, with the network off, on or listed. Attacked with the real bwrap;
// there is no skip: without a working bwrap these fail, as they must.
import { execFile, spawn, type ChildProcess } from "node:child_process";
import { promisify } from "node:util";
import { existsSync } from "node:fs";
import { mkdir, mkdtemp, rm, writeFile } from "node:fs/promises";
import http from "node:http";
import { homedir } from "node:os";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { BashConfig } from "../../src/tools/types.js";
import { sandbox, tools, type Sandbox } from "../tools/helpers.js";
import { sandboxedBash } from "./sandboxed.js";

let sb: Sandbox;
/** Outside every place the sandbox may show: under the user's real home, and a runner-temp-like dir in /var/tmp. */
let homeSecretDir: string;
let varTmpDir: string;
const servers: http.Server[] = [];

const REACHED = "HOST-DAEMON-REACHED";
/** An HTTP daemon on a unix socket (a path, or "\0name" for an abstract one), as docker's is. */
async function daemon(address: string): Promise<void> {
  const server = http.createServer((_req, res) => res.end(`${REACHED}\n`));
  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen(address, () => resolve());
  });
  servers.push(server);
}

/**
 * The same on an abstract socket (no file: reachable from any process in the network
 * namespace). In python, whose name is the exact bytes given, as curl's and most
 * daemons' are; node pads an abstract name to the full sun_path.
 */
async function abstractDaemon(name: string): Promise<void> {
  const code = [
    "import socket, sys",
    "s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)",
    `s.bind("\\0" + sys.argv[1])`,
    "s.listen(16)",
    "print('listening', flush=True)",
    "while True:",
    "    c, _ = s.accept()",
    "    c.recv(65536)",
    `    c.sendall(b"HTTP/1.1 200 OK\\r\\nContent-Length: ${REACHED.length + 1}\\r\\nConnection: close\\r\\n\\r\\n${REACHED}\\n")`,
    "    c.close()",
  ].join("\n");
  const child = spawn("python3", ["-c", code, name], { stdio: ["ignore", "pipe", "inherit"] });
  children.push(child);
  await new Promise<void>((resolve, reject) => {
    child.once("error", reject);
    child.stdout!.once("data", () => resolve());
  });
}
const children: ChildProcess[] = [];

const RUN_SOCKET = `/run/pod-test-${process.pid}.sock`;
let runWritable = false;

beforeAll(async () => {
  sb = await sandbox({ "hello.txt": "hi\n" });
  homeSecretDir = await mkdtemp(path.join(homedir(), ".pod-sbx-test-"));
  await mkdir(path.join(homeSecretDir, ".aws"));
  await writeFile(path.join(homeSecretDir, ".aws/credentials"), "[default]\naws_secret_access_key = HOME-SECRET-KEY\n");
  varTmpDir = await mkdtemp("/var/tmp/pod-sbx-test-");
  await writeFile(path.join(varTmpDir, "runner-secret.txt"), "RUNNER-TEMP-SECRET\n");
  await daemon(path.join(varTmpDir, "daemon.sock"));
  await abstractDaemon(`pod-test-abstract-${process.pid}`);
  try {
    await daemon(RUN_SOCKET);
    runWritable = true;
  } catch {
    // /run is root's: an ordinary user's run has the /var/tmp and abstract daemons only.
  }
});
afterAll(async () => {
  for (const s of servers) await new Promise((r) => s.close(r));
  for (const c of children) c.kill("SIGKILL");
  await rm(homeSecretDir, { recursive: true, force: true });
  await rm(varTmpDir, { recursive: true, force: true });
  await rm(RUN_SOCKET, { force: true });
});

const bash = (opts: Partial<BashConfig> = {}) =>
  tools(sb.root, { bash: { enabled: true, allow: ["bash -c *", "cat *", "ls *"], timeout_s: 20, ...opts } }).then(sandboxedBash);

describe("the sandbox shows a system allowlist, not the host", () => {
  it("the user's home is not there: ~/.aws/credentials cannot be read, the home cannot be listed", async () => {
    const run = await bash();
    const r = await run(`cat ${path.join(homeSecretDir, ".aws/credentials")}`);
    expect(r.output).not.toContain("HOME-SECRET-KEY");
    const ls = await run(`ls -a ${homedir()}`);
    expect(ls.output).not.toContain(path.basename(homeSecretDir));
  });

  it("the runner's temp and other places outside the scope are not there", async () => {
    const r = await (await bash())(`cat ${path.join(varTmpDir, "runner-secret.txt")}`);
    expect(r.output).not.toContain("RUNNER-TEMP-SECRET");
    const other = await (await bash())(`ls ${path.dirname(sb.root)}`);
    expect(other.output).not.toContain("outside");
  });

  it("/etc is there without its secrets: /etc/shadow and /etc/gshadow read empty, /etc/passwd reads", async () => {
    const run = await bash();
    for (const f of ["/etc/shadow", "/etc/gshadow"]) {
      if (!existsSync(f)) continue;
      const r = await run(`cat ${f}`);
      expect(r.output, f).not.toMatch(/^root:/m);
    }
    expect((await run("cat /etc/passwd")).output).toMatch(/^root:/m);
  });

  it("/run is not there", async () => {
    const r = await (await bash())("ls -a /run /var/run");
    expect(r.output).not.toMatch(/pod-test-|dbus|lock/);
  });

  it("a hidden path the command needed gets one line naming the read entry that would show it", async () => {
    const r = await (await bash())(`cat ${path.join(homeSecretDir, ".aws/credentials")}`);
    expect(r.output).toMatch(/No such file or directory/);
    expect(r.output).toContain(`[tools.bash] read = ["~/${path.basename(homeSecretDir)}"]`);
  });

  it("`read` shows a path, read-only", async () => {
    const run = await bash({ read: [`~/${path.basename(homeSecretDir)}`] } as Partial<BashConfig>);
    const r = await run(`bash -c 'cat ${path.join(homeSecretDir, ".aws/credentials")}; echo x > ${path.join(homeSecretDir, "w.txt")}; echo done'`);
    expect(r.output).toContain("HOME-SECRET-KEY");
    expect(r.output).toContain("done");
    expect(existsSync(path.join(homeSecretDir, "w.txt"))).toBe(false);
  });
});

describe("no host socket is connectable", () => {
  const curl = (args: string) => `bash -c 'curl -sS -m 5 ${args} http://localhost/ 2>&1; echo; echo end'`;
  const attempts = () => [
    `--unix-socket ${path.join(varTmpDir, "daemon.sock")}`,
    `--abstract-unix-socket pod-test-abstract-${process.pid}`,
    ...(runWritable ? [`--unix-socket ${RUN_SOCKET}`, `--unix-socket /var/run/${path.basename(RUN_SOCKET)}`] : []),
  ];

  for (const [name, network] of [
    ["off", false],
    ["on", true],
    ["listed", ["registry.npmjs.org"]],
  ] as const) {
    it(`network ${name}: a daemon on a path socket (/var/tmp, /run) or an abstract socket does not answer`, async () => {
      const run = await bash({ network: network as BashConfig["network"] });
      for (const a of attempts()) {
        const r = await run(curl(a));
        expect(r.output, a).toContain("end");
        expect(r.output, a).not.toContain(REACHED);
      }
    });
  }

  it("a daemon's socket inside the scope does not answer either (it is masked)", async () => {
    const sock = path.join(sb.root, "dev.sock");
    await daemon(sock);
    for (const network of [false, true] as const) {
      const r = await (await bash({ network }))(curl(`--unix-socket dev.sock`));
      expect(r.output).toContain("end");
      expect(r.output).not.toContain(REACHED);
    }
  });

  it("the daemons answer from outside the sandbox (the attack above is real)", async () => {
    for (const a of [["--unix-socket", path.join(varTmpDir, "daemon.sock")], ["--abstract-unix-socket", `pod-test-abstract-${process.pid}`]]) {
      const { stdout } = await promisify(execFile)("curl", ["-sS", "-m", "5", ...a, "http://localhost/"], { encoding: "utf8" });
      expect(stdout).toContain(REACHED);
    }
  });
});
