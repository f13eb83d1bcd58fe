// npm run demo: pod fixes a real failing test, no API key needed.
// A fake Messages API server plays a scripted model (test/fixtures/fix-calc.json);
// everything else is real: the built pod binary, its file tools, Bash, node --test.
import { execFileSync, spawn } from "node:child_process";
import { cpSync, existsSync, mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { createInterface } from "node:readline";
import { fileURLToPath } from "node:url";

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "..");
const pod = path.join(root, "dist/pod.cjs");
if (!existsSync(pod)) execFileSync("npm", ["run", "build"], { cwd: root, stdio: "inherit" });

const work = mkdtempSync(path.join(tmpdir(), "pod-demo-"));
// The copy is removed on the way out (however the demo ends), unless --keep asks to look at it.
const keep = process.argv.includes("--keep");
let server;
process.on("exit", () => {
  server?.kill("SIGTERM");
  if (!keep) rmSync(work, { recursive: true, force: true });
});
for (const sig of ["SIGINT", "SIGTERM"]) process.on(sig, () => process.exit(130));
cpSync(path.join(root, "examples/calc"), work, { recursive: true });
const bold = process.stderr.isTTY && !process.env.NO_COLOR ? (s) => `\x1b[1m${s}\x1b[0m` : (s) => s;
const say = (s) => process.stderr.write(`\n${bold(`# ${s}`)}\n`);
const tests = () => {
  try {
    execFileSync(process.execPath, ["--test", "test/"], { cwd: work, stdio: "pipe" });
    return "pass";
  } catch {
    return "FAIL";
  }
};

say(`a copy of examples/calc in ${work}; its tests: ${tests()}`);
server = spawn(process.execPath, [path.join(root, "node_modules/tsx/dist/cli.mjs"), path.join(root, "test/fake-server/cli.ts"), path.join(root, "test/fixtures/fix-calc.json")], {
  stdio: ["ignore", "pipe", "inherit"],
});
const { url } = JSON.parse(await new Promise((resolve) => createInterface({ input: server.stdout }).once("line", resolve)));

say(`pod run "fix the failing test"   (scripted model at ${url})`);
const format = process.argv.includes("--jsonl") ? "jsonl" : "pretty";
const code = await new Promise((resolve) => {
  const child = spawn(process.execPath, [pod, "run", "fix the failing test", "--format", format], {
    cwd: work,
    stdio: "inherit",
    env: { ...process.env, ANTHROPIC_API_KEY: "demo-key-not-secret", ANTHROPIC_BASE_URL: url },
  });
  child.on("close", resolve);
});
server.kill("SIGTERM");
say(`pod exited ${code}; the tests now: ${tests()}${keep ? ` (kept: ${work})` : " (the copy is removed; --keep keeps it)"}`);
process.exit(code === 0 && tests() === "pass" ? 0 : 1);
