import { runToEnd } from "../helpers/spawn.js";
import { execFileSync } from "node:child_process";
import { chmodSync, existsSync, readFileSync } from "node:fs";
import { mkdir, mkdtemp, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import path from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import { startFakeServer, type FakeServer } from "../fake-server/server.js";
import { parseJsonl, podEnv, POD_BIN, REPO_ROOT } from "../helpers/pod-process.js";

/**
 * The shell commands in README.md and docs/ci.md are run or checked, so the docs cannot
 * drift from the tool:
 * - every shell block parses (`bash -n`), and every `pod <command> --flag` it uses exists
 *   in the built binary's `--help`;
 * - the README's Quick start and "In CI" blocks and docs/ci.md's plain shell step and jq
 *   lines run for real, with `pod` on PATH being the built binary and the fake Messages API
 *   standing in for the real one (the docs' placeholder key then reaches only the fake).
 * Skipped, and why:
 * - the README's first command (npm ci + npm pack + install into ~/.local): it would
 *   reinstall this checkout's node_modules under the running suite; package.test.ts runs
 *   the same pack + prefix install (offline) and a real run from the installed copy, and
 *   below we check the command is that one;
 * - `npm ci && npm test`: it is this suite; below we check .ci/run runs the same;
 * - `npm install -g … pod-ci-agent…tgz` lines (a release tarball the docs assume is there):
 *   package.test.ts installs a real one; the rest of their block runs.
 */
const README = readFileSync(path.join(REPO_ROOT, "README.md"), "utf8");
const CI_DOC = readFileSync(path.join(REPO_ROOT, "docs/ci.md"), "utf8");

type Block = { file: string; heading: string; code: string };

/** ```sh / ```bash / ```shell fences, and indented (4-space) code blocks. */
function shellBlocks(file: string, md: string): Block[] {
  const blocks: Block[] = [];
  let heading = "";
  const lines = md.split("\n");
  for (let i = 0; i < lines.length; i++) {
    const line = lines[i]!;
    if (line.startsWith("#")) heading = line.replace(/^#+\s*/, "");
    else if (/^\*\*.+\*\*/.test(line)) heading = line.replace(/\*\*/g, "").trim();
    const fence = /^```(\w*)/.exec(line);
    if (fence) {
      const body: string[] = [];
      for (i++; i < lines.length && !lines[i]!.startsWith("```"); i++) body.push(lines[i]!);
      if (["sh", "bash", "shell"].includes(fence[1]!)) blocks.push({ file, heading, code: body.join("\n") });
      continue;
    }
    if (line.startsWith("    ") && (lines[i - 1] ?? "").trim() === "") {
      const body: string[] = [];
      for (; i < lines.length && lines[i]!.startsWith("    "); i++) body.push(lines[i]!.slice(4));
      blocks.push({ file, heading, code: body.join("\n") });
    }
  }
  return blocks;
}

const blocks = [...shellBlocks("README.md", README), ...shellBlocks("docs/ci.md", CI_DOC)];
const block = (file: string, heading: RegExp) => {
  const found = blocks.find((b) => b.file === file && heading.test(b.heading));
  if (!found) throw new Error(`no shell block under a heading matching ${heading} in ${file}`);
  return found;
};

/** Shell words, roughly: quotes kept together, operators split out. Enough to find `pod` and its flags. */
function words(line: string): string[] {
  const out: string[] = [];
  const re = /"(?:[^"\\]|\\.)*"|'[^']*'|&&|\|\||[|;()<>]|[^\s|;&()<>]+/g;
  for (const m of line.replace(/#.*$/, "").matchAll(re)) out.push(m[0]);
  return out;
}

/** Every `pod <command> [--flags]` used in a block. */
function podUses(code: string): { command: string; flags: string[] }[] {
  const uses: { command: string; flags: string[] }[] = [];
  for (const line of code.split("\n")) {
    const w = words(line);
    for (let i = 0; i < w.length; i++) {
      if (w[i] !== "pod" && !w[i]!.endsWith("(pod")) continue;
      const command = w[i + 1];
      if (!command || !/^[a-z]+$/.test(command)) continue;
      const flags: string[] = [];
      for (let j = i + 2; j < w.length && !["&&", "||", "|", ";", ")", ">", "<"].includes(w[j]!); j++) if (w[j]!.startsWith("--")) flags.push(w[j]!.split("=")[0]!);
      uses.push({ command, flags });
    }
  }
  return uses;
}

const helpOf = (args: string[]) => execFileSync(process.execPath, [POD_BIN, ...args, "--help"], { encoding: "utf8" });

let server: FakeServer | undefined;
afterEach(async () => {
  await server?.close();
  server = undefined;
});

/** A temp dir with `pod` on PATH being the built binary, and env for the fake server. */
async function sandbox() {
  const dir = await mkdtemp(path.join(tmpdir(), "pod-docs-"));
  const bin = path.join(dir, "bin");
  await mkdir(bin);
  await writeFile(path.join(bin, "pod"), `#!/bin/sh\nexec "${process.execPath}" "${POD_BIN}" "$@"\n`);
  chmodSync(path.join(bin, "pod"), 0o755);
  const turn = { response: { content: [{ type: "text", text: "Done." }], stop_reason: "end_turn" } };
  server = await startFakeServer({ turns: Array.from({ length: 8 }, () => turn) });
  const env = podEnv(server.url, { PATH: `${bin}:${process.env.PATH}`, HOME: dir, ANTHROPIC_API_KEY: undefined }) as NodeJS.ProcessEnv;
  return { dir, env };
}

function bash(script: string, cwd: string, env: NodeJS.ProcessEnv) {
  return runToEnd("bash", ["-c", script], { cwd, env });
}

describe("doc commands", () => {
  it("finds the blocks it is meant to check", () => {
    expect(blocks.length).toBeGreaterThanOrEqual(6);
  });

  it("every shell block parses", () => {
    // As many as the docs hold: a parser that found none would pass the loop below.
    expect(blocks.length).toBeGreaterThanOrEqual(6);
    expect(blocks.filter((b) => b.file === "docs/ci.md").length).toBeGreaterThanOrEqual(2);
    for (const b of blocks) {
      try {
        execFileSync("bash", ["-n", "-c", b.code], { stdio: "pipe" });
      } catch (err) {
        throw new Error(`${b.file} "${b.heading}": bash -n failed: ${(err as { stderr?: Buffer }).stderr}\n${b.code}`);
      }
    }
  });

  it("every pod command and flag the docs use exists", () => {
    const commands = helpOf([]);
    const uses = blocks.flatMap((b) => podUses(b.code).map((u) => ({ ...u, where: `${b.file} "${b.heading}"` })));
    expect(uses.length).toBeGreaterThan(8);
    const help = new Map<string, string>();
    for (const u of uses) {
      expect(commands, `${u.where}: pod ${u.command}`).toMatch(new RegExp(`^  ${u.command}\\b`, "m"));
      if (!help.has(u.command)) help.set(u.command, helpOf([u.command]));
      for (const flag of u.flags) expect(help.get(u.command), `${u.where}: pod ${u.command} ${flag}`).toContain(flag);
    }
  });

  it("the README's first two commands are the pack-and-install and the test suite that .ci/run runs", () => {
    const setUp = block("README.md", /^Set up and run/).code;
    expect(setUp).toMatch(/npm install -g --prefix ~\/\.local "\$\(npm pack --silent\)"/);
    expect(setUp).not.toMatch(/sudo|npm link/);
    const suite = block("README.md", /^Run the whole test suite/).code.trim();
    expect(suite).toBe("npm ci && npm test");
    expect(readFileSync(path.join(REPO_ROOT, ".ci/run"), "utf8")).toContain(`\n${suite}\n`);
    // What package.test.ts checks is what the command installs.
    expect(JSON.parse(readFileSync(path.join(REPO_ROOT, "package.json"), "utf8")).scripts.prepack).toBe("npm run build");
  });

  it("runs the README's Quick start and its CI snippet", async () => {
    const { dir, env } = await sandbox();
    await mkdir(path.join(dir, "my-project"));
    const quick = await bash(`set -e\n${block("README.md", /^Quick start/).code}`, dir, env);
    expect(quick.code, quick.stderr).toBe(0);
    // `pod run … | jq -c 'select(.type=="run_end")'` printed one run_end line.
    expect(quick.stdout).toContain('"type":"run_end"');
    // In CI the key comes from a secret, not from the snippet.
    const withKey = { ...env, ANTHROPIC_API_KEY: "sk-ant-ci-secret" };
    const ci = await bash(block("README.md", /^Quick start/).code.split("\n")[0] + "\n" + CI_SNIPPET(), dir, withKey);
    expect(ci.code, ci.stderr).toBe(0);
    expect(ci.stdout.trim().split("\n").at(-1)).toBe("done");
  });

  it("runs docs/ci.md's plain shell step (minus the registry install) and its jq lines", async () => {
    const sb = await sandbox();
    const dir = sb.dir;
    // In CI the key comes from a secret (docs/ci.md says so), not from the step.
    const env = { ...sb.env, ANTHROPIC_API_KEY: "sk-ant-ci-secret" };
    // pod init succeeds (execFileSync throws otherwise), prints nothing on stdout, and writes pod.toml.
    expect(execFileSync(process.execPath, [POD_BIN, "init"], { cwd: dir, env, encoding: "utf8" })).toBe("");
    expect(existsSync(path.join(dir, "pod.toml"))).toBe(true);
    const step = block("docs/ci.md", /^A plain shell step/).code;
    const skipped = step.split("\n").filter((l) => /^npm install -g .*pod-ci-agent/.test(l));
    expect(skipped).toHaveLength(1);
    const r = await bash(step.split("\n").filter((l) => !skipped.includes(l)).join("\n"), dir, env);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toContain("pod finished");
    const events = parseJsonl(readFileSync(path.join(dir, "pod-events.jsonl"), "utf8"));
    expect(events.at(-1)).toMatchObject({ type: "run_end", result: "finished" });
    const jq = await bash(`set -e\n${block("docs/ci.md", /^Useful jq/).code}`, dir, env);
    expect(jq.code, jq.stderr).toBe(0);
    expect(jq.stdout).toContain('"result":"finished"');
  });
});

/** The README's "In CI, branch on the exit code" block (the second block under Quick start). */
function CI_SNIPPET(): string {
  const quickBlocks = blocks.filter((b) => b.file === "README.md" && /^Quick start/.test(b.heading));
  expect(quickBlocks.length).toBeGreaterThanOrEqual(2);
  return quickBlocks[1]!.code;
}
