// What the system prompt's git line costs now that pod reads it as data (src/prompt/
// git-state.ts, issue 21 item 2) instead of running git: the same line computed by
// readGitState() and by the three git calls pod used to make (`rev-parse
// --is-inside-work-tree`, then `symbolic-ref --short -q HEAD` and `status --porcelain
// --untracked-files=no` side by side), on a real tree made a git checkout as CI gets one
// (pod's own node_modules — the packages' real files — committed, then `git clone
// --no-local`: a pack and a fresh index), clean and with one file edited. Interleaved,
// medians.
import { execFile } from "node:child_process";
import { cpSync, readFileSync, realpathSync, writeFileSync } from "node:fs";
import path from "node:path";
import { promisify } from "node:util";
import { cachedCheckout, git, timeInterleaved } from "./lib.mjs";

const run = promisify(execFile);
const log = (s) => process.stderr.write(`bench: ${s}\n`);

function checkout(root) {
  return cachedCheckout(root, "gitstate-deps", (src) => cpSync(realpathSync(path.join(root, "node_modules")), path.join(src, "node_modules"), { recursive: true, verbatimSymlinks: true }), log);
}

export async function gitStateBench(root) {
  const { readGitState } = await import("../src/prompt/git-state.ts");
  const dir = checkout(root);
  const files = Number(git(dir, "ls-files").toString().split("\n").length - 1);
  const env = { ...process.env, GIT_OPTIONAL_LOCKS: "0" };
  // What pod ran before: the same three calls, the same way (execFile, in parallel after the first).
  const viaGit = async () => {
    await run("git", ["rev-parse", "--is-inside-work-tree"], { cwd: dir, env });
    const [ref, status] = await Promise.all([run("git", ["symbolic-ref", "--short", "-q", "HEAD"], { cwd: dir, env }), run("git", ["status", "--porcelain", "--untracked-files=no"], { cwd: dir, env, maxBuffer: 1 << 20 })]);
    return `branch ${ref.stdout.trim()}, ${status.stdout.trim() === "" ? "no uncommitted changes to tracked files" : "uncommitted changes to tracked files"}`;
  };
  // From the tree's root, as `pod run` in a CI job (the reader then names files relative to it).
  const asData = async () => {
    const cwd = process.cwd();
    process.chdir(dir);
    try {
      return await readGitState(dir);
    } finally {
      process.chdir(cwd);
    }
  };
  const check = async (want) => {
    const [a, b] = [await asData(), await viaGit()];
    if (a !== b || a !== want) throw new Error(`git state differs: pod "${a}", git "${b}", expected "${want}"`);
  };
  await check("branch main, no uncommitted changes to tracked files");
  const [gitClean, dataClean] = await timeInterleaved([viaGit, asData], { runs: 11 });
  // One tracked file edited (the last in the index: the reader stops at the first change, so the worst place).
  const last = git(dir, "ls-files").toString().trim().split("\n").at(-1);
  const file = path.join(dir, last);
  const saved = readFileSync(file);
  writeFileSync(file, Buffer.concat([saved, Buffer.from("\n")]));
  try {
    await check("branch main, uncommitted changes to tracked files");
    const [gitDirty, dataDirty] = await timeInterleaved([viaGit, asData], { runs: 11 });
    return { files, gitClean, dataClean, gitDirty, dataDirty };
  } finally {
    writeFileSync(file, saved);
  }
}
