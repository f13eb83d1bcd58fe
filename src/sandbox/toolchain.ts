import { access, realpath } from "node:fs/promises";
import { constants } from "node:fs";
import { homedir } from "node:os";
import path from "node:path";
import { readEntry } from "./hint.js";
import { shownBy, type HostSystem } from "./system.js";
import { hostEnv } from "../env-config.js";

/** A project's toolchain: the programs its tests need, by the files that say what it is. */
const PROGRAMS: Array<{ marker: (names: ReadonlySet<string>) => boolean; programs: string[]; also?: string[] }> = [
  { marker: (n) => n.has("package.json"), programs: ["node"] },
  { marker: (n) => ["pyproject.toml", "setup.py", "setup.cfg", "requirements.txt", "pytest.ini", "tox.ini"].some((f) => n.has(f)), programs: ["python3"] },
  { marker: (n) => n.has("go.mod"), programs: ["go"] },
  // cargo on PATH is rustup's proxy: the toolchains themselves live in ~/.rustup.
  { marker: (n) => n.has("Cargo.toml"), programs: ["cargo"], also: ["~/.rustup"] },
];

/**
 * The `[tools.bash] read` entries a project needs for its toolchain to run in the
 * sandbox (`pod init` writes them): each program its files call for, found on PATH
 * as a shell would, whose real location is outside the system view — a Node under
 * /opt/hostedtoolcache or ~/.nvm, a pyenv python, a rustup cargo.
 */
export async function toolchainReads(names: ReadonlySet<string>, host: HostSystem, PATH = hostEnv().PATH ?? ""): Promise<string[]> {
  const out = new Set<string>();
  for (const t of PROGRAMS) {
    if (!t.marker(names)) continue;
    for (const program of t.programs) {
      const found = await onPath(program, PATH);
      if (!found) continue;
      // …/bin/node → …: the install dir holds the program's own libraries (npm beside node).
      const prefix = path.dirname(path.dirname(found.real));
      if (!shownBy(host, [], found.real)) out.add(readEntry(prefix, { dir: true }));
    }
    for (const extra of t.also ?? []) {
      const abs = path.join(homedir(), extra.slice(2));
      if (await access(abs).then(() => true, () => false)) out.add(extra);
    }
  }
  return [...out];
}

/** The first `program` on PATH (as the shell finds it) and where it really is. */
async function onPath(program: string, PATH: string): Promise<{ first: string; real: string } | undefined> {
  // The first match wins, as in a shell; where it really lives decides what must be shown.
  for (const dir of PATH.split(":")) {
    if (!path.isAbsolute(dir)) continue;
    const first = path.join(dir, program);
    if (!(await access(first, constants.X_OK).then(() => true, () => false))) continue;
    return { first, real: await realpath(first).catch(() => first) };
  }
  return undefined;
}
