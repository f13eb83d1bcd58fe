import { existsSync } from "node:fs";
import { open } from "node:fs/promises";
import path from "node:path";

/** Per-file cap: a huge AGENTS.md must not crowd out the task (or the context window). */
export const INSTRUCTION_FILE_CAP_BYTES = 32 * 1024;

export interface InstructionFile {
  /** Absolute path. */
  file: string;
  text: string;
  truncated: boolean;
}

/** The nearest directory at or above `dir` holding `.git` (a directory, or a file for worktrees). */
export function findGitRoot(dir: string): string | undefined {
  for (let d = path.resolve(dir); ; d = path.dirname(d)) {
    if (existsSync(path.join(d, ".git"))) return d;
    if (path.dirname(d) === d) return undefined;
  }
}

/**
 * The directories instruction files are looked for in, outermost first: from the git
 * root (or, outside git, the scope root) down to the manifest's directory. When the
 * manifest's directory is not inside that top, only the manifest's directory.
 */
export function instructionDirs(manifestDir: string, scopeRoot: string | undefined): string[] {
  const bottom = path.resolve(manifestDir);
  const top = findGitRoot(bottom) ?? scopeRoot ?? bottom;
  const rel = path.relative(top, bottom);
  if (rel.startsWith("..") || path.isAbsolute(rel)) return [bottom];
  const dirs = [top];
  for (const part of rel.split(path.sep).filter(Boolean)) dirs.push(path.join(dirs.at(-1)!, part));
  return dirs;
}

/**
 * Loads `[pod] instructions` (AGENTS.md, CLAUDE.md by default) from each directory,
 * outermost first and in the manifest's order within a directory, so the most
 * specific rules come last. Each file is capped at INSTRUCTION_FILE_CAP_BYTES, with
 * a visible marker where it was cut. Unreadable files (a directory, a dangling link)
 * are skipped.
 */
export async function loadInstructions(names: readonly string[], dirs: readonly string[]): Promise<InstructionFile[]> {
  const found: InstructionFile[] = [];
  const seen = new Set<string>();
  for (const dir of dirs) {
    for (const name of names) {
      const file = path.resolve(dir, name);
      if (seen.has(file)) continue;
      seen.add(file);
      const loaded = await readCapped(file);
      if (loaded) found.push({ file, ...loaded });
    }
  }
  return found;
}

async function readCapped(file: string): Promise<{ text: string; truncated: boolean } | undefined> {
  let handle;
  try {
    handle = await open(file, "r");
  } catch {
    return undefined;
  }
  try {
    const st = await handle.stat();
    if (!st.isFile()) return undefined;
    const buf = Buffer.alloc(Math.min(st.size, INSTRUCTION_FILE_CAP_BYTES));
    const { bytesRead } = await handle.read(buf, 0, buf.length, 0);
    const truncated = st.size > INSTRUCTION_FILE_CAP_BYTES;
    // Cut at a character boundary: drop a trailing partial UTF-8 sequence.
    let text = new TextDecoder("utf-8").decode(buf.subarray(0, bytesRead));
    if (truncated) text = text.replace(/\uFFFD+$/, "");
    if (truncated) text += `\n\n[pod: ${path.basename(file)} is ${st.size} bytes; only the first ${INSTRUCTION_FILE_CAP_BYTES} are included]`;
    return { text, truncated };
  } catch {
    return undefined;
  } finally {
    await handle.close();
  }
}
