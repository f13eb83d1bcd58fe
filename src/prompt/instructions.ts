import { existsSync } from "node:fs";
import path from "node:path";
import { boundaryRefusal, isInside, type TrustBoundary } from "../contract/boundary.js";
import { readTrusted, type TrustedFile } from "../contract/read.js";

/** Per-file cap: a huge AGENTS.md must not crowd out the task (or the context window). */
export const INSTRUCTION_FILE_CAP_BYTES = 32 * 1024;

export interface InstructionFile {
  /** Absolute path. */
  file: string;
  text: string;
  truncated: boolean;
  /** The file as read (identity and hash), pinned for the run. */
  source: TrustedFile;
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
 * a visible marker where it was cut. Missing files and directories are skipped quietly.
 *
 * Instruction files are trusted inputs (SPEC "Containment"): each is read once, through a
 * descriptor (src/contract/read.ts), and refused — skipped, with the reason in `skipped` —
 * when it is not a regular file (a FIFO named AGENTS.md is never waited on) or, with a
 * `boundary`, when it is a link out of the workspace or into a denied or hidden file
 * (`AGENTS.md -> .env`). `source` is what was read, for the run's pins.
 */
export async function loadInstructionFiles(names: readonly string[], dirs: readonly string[], boundary?: TrustBoundary): Promise<{ files: InstructionFile[]; skipped: string[] }> {
  const files: InstructionFile[] = [];
  const skipped: string[] = [];
  const seen = new Set<string>();
  for (const dir of dirs) {
    for (const name of names) {
      const file = path.resolve(dir, name);
      if (seen.has(file)) continue;
      seen.add(file);
      const shown = boundary && isInside(boundary.root, file) ? path.relative(boundary.root, file) : file;
      const read = await readTrusted(file, shown);
      if (!read.ok) {
        // A missing file is the common case; a directory of that name is not an instruction file either.
        if (read.reason !== "missing" && read.reason !== "directory") skipped.push(`instruction file ${read.message}: not loaded`);
        continue;
      }
      const why = boundary ? boundaryRefusal(boundary, file, read.file.real, shown) : undefined;
      if (why) {
        skipped.push(`instruction file ${why}: not loaded`);
        continue;
      }
      files.push({ file, ...capped(read.file.bytes, file), source: read.file });
    }
  }
  return { files, skipped };
}

/** The instruction files alone (no boundary, nothing said about skipped ones): for tests and tools. */
export async function loadInstructions(names: readonly string[], dirs: readonly string[]): Promise<InstructionFile[]> {
  return (await loadInstructionFiles(names, dirs)).files;
}

function capped(bytes: Buffer, file: string): { text: string; truncated: boolean } {
  const truncated = bytes.length > INSTRUCTION_FILE_CAP_BYTES;
  // Cut at a character boundary: drop a trailing partial UTF-8 sequence.
  let text = new TextDecoder("utf-8").decode(bytes.subarray(0, INSTRUCTION_FILE_CAP_BYTES));
  if (truncated) text = text.replace(/\uFFFD+$/, "");
  if (truncated) text += `\n\n[pod: ${path.basename(file)} is ${bytes.length} bytes; only the first ${INSTRUCTION_FILE_CAP_BYTES} are included]`;
  return { text, truncated };
}
