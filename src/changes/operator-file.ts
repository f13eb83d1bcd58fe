import { lstatSync, realpathSync } from "node:fs";
import path from "node:path";
import { PodError } from "../errors.js";
import { writeFile } from "node:fs/promises";

/**
 * A file the operator asked for on the command line (`--diff FILE`, `--sarif FILE`),
 * resolved when the run begins. (A reusable module for every such file, `-o` too, is
 * being built on branch `trust`; this is the one function to switch over.)
 */
export interface OperatorTarget {
  /** The flag, for messages: "--diff". */
  flag: string;
  /** As given, for messages. */
  given: string;
  /** The directory's real path at start. */
  dir: string;
  name: string;
}

/** Resolves `--flag FILE` before the run: its directory must exist; the file must not be a symlink or a directory. */
export function resolveOperatorTarget(flag: string, given: string): OperatorTarget {
  const bad = (why: string, fix: string) => new PodError("invalid_input", `${flag} ${given}: ${why}`, fix);
  const abs = path.resolve(given);
  const name = path.basename(abs);
  let dir: string;
  try {
    dir = realpathSync(path.dirname(abs));
  } catch {
    throw bad(`the directory ${path.dirname(abs)} does not exist`, "create it first, or write the file somewhere that exists");
  }
  const st = lstatSync(path.join(dir, name), { throwIfNoEntry: false });
  if (st?.isSymbolicLink()) throw bad("it is a symlink; pod does not write through links", "give the path of the file itself (or remove the link)");
  if (st && !st.isFile()) throw bad("it exists and is not a regular file", "give the path of a file to create or replace");
  return { flag, given, dir, name };
}

/** Writes the file atomically (temp file + rename), all or nothing. */
export async function writeOperatorFile(target: OperatorTarget, data: Buffer | string): Promise<void> {
  await writeFile(path.join(target.dir, target.name), data);
}
