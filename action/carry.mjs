// The workspace changes of a workflow run, carried across its jobs. Every job gets a fresh
// checkout, so what pod changed in an earlier job (before a pause, say) is not in the
// approval job's workspace. The run step asks pod for its changes as a patch (`--diff`,
// docs/changes.md) and keeps each non-empty one in the carry directory, which is cached
// with the runtime directory; a later job of the same workflow run applies the patches it
// has not applied yet (`git apply`, no index, no hooks) before pod starts, in order.
// Imports only node: built-ins.
import { spawnSync } from "node:child_process";
import { copyFileSync, existsSync, mkdirSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from "node:fs";
import path from "node:path";

const PATCH = /^\d{4}-[\w.-]+\.patch$/;

/** The carried patches, oldest first. */
export function patchesIn(carryDir) {
  if (!existsSync(carryDir)) return [];
  return readdirSync(carryDir).filter((n) => PATCH.test(n)).sort();
}

function readApplied(file) {
  try {
    return new Set(JSON.parse(readFileSync(file, "utf8")));
  } catch {
    return new Set();
  }
}

function markApplied(file, names) {
  const all = readApplied(file);
  for (const n of names) all.add(n);
  mkdirSync(path.dirname(file), { recursive: true });
  writeFileSync(file, JSON.stringify([...all].sort()));
}

/** The git work tree holding `dir` (found as git finds `.git`), if any. */
function gitTop(dir) {
  for (let cur = path.resolve(dir); ; cur = path.dirname(cur)) {
    if (existsSync(path.join(cur, ".git"))) return cur;
    if (path.dirname(cur) === cur) return undefined;
  }
}

/**
 * Applies the carried patches this job's workspace does not have yet (`appliedFile` lists
 * them, per job: $RUNNER_TEMP is the job's). The patches' paths are relative to the scope
 * root; git applies paths relative to the top of its work tree, hence --directory.
 * Throws with the fix when one does not apply.
 */
export function applyCarried({ carryDir, appliedFile, scopeRoot, log }) {
  const applied = readApplied(appliedFile);
  const todo = patchesIn(carryDir).filter((n) => !applied.has(n));
  if (!todo.length) return [];
  const top = gitTop(scopeRoot);
  const rel = top ? path.relative(top, scopeRoot).split(path.sep).join("/") : "";
  const git = (extra) => {
    const args = ["-c", "core.hooksPath=/dev/null", "apply", "--whitespace=nowarn", ...extra, ...(rel ? [`--directory=${rel}`] : [])];
    return { args, run: (file) => spawnSync("git", [...args, file], { cwd: top ?? scopeRoot, encoding: "utf8", stdio: ["ignore", "pipe", "pipe"] }) };
  };
  for (const name of todo) {
    const file = path.join(carryDir, name);
    const apply = git([]);
    log(`$ git ${apply.args.join(" ")} ${file}`);
    const r = apply.run(file);
    // A workspace that already has them (a runner that kept it): nothing to do.
    if ((r.error || r.status !== 0) && git(["--reverse", "--check"]).run(file).status === 0) {
      log(`  (already in this checkout)`);
      markApplied(appliedFile, [name]);
      continue;
    }
    if (r.error || r.status !== 0) {
      throw new Error(
        `the changes an earlier job of this workflow run made (${name}) do not apply to this checkout: ${(r.stderr || r.error?.message || "").trim().split("\n")[0]}. ` +
          "Check out the same commit as that job (actions/checkout does by default), or set carry-changes: false",
      );
    }
    markApplied(appliedFile, [name]);
  }
  return todo;
}

/** Keeps this invocation's patch (if it changed anything) as the next carried one. */
export function keepPatch({ patchFile, carryDir, appliedFile, label }) {
  if (!existsSync(patchFile)) return undefined;
  // Nothing changed: no patch to keep, and none to upload.
  if (statSync(patchFile).size === 0) {
    rmSync(patchFile, { force: true });
    return undefined;
  }
  mkdirSync(carryDir, { recursive: true });
  const n = patchesIn(carryDir).length + 1;
  const name = `${String(n).padStart(4, "0")}-${label.replace(/[^\w.-]+/g, "_")}.patch`;
  copyFileSync(patchFile, path.join(carryDir, name));
  // This workspace has these changes already.
  markApplied(appliedFile, [name]);
  return name;
}
