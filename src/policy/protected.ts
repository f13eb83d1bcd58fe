import path from "node:path";
import { dirsBetween, isInside, realOrPlanned } from "./paths.js";

/**
 * The paths that make up a pod's own contract (SPEC "Containment"): what the model
 * must never be able to change, whatever `writable` says and whatever it runs.
 * Computed from where the pod actually is, not from the manifest, so no manifest
 * key can turn it off. Every path is absolute and resolved (src/policy/paths.ts's
 * realOrPlanned), whether it exists yet or not.
 */
export interface ProtectedSet {
  /** Readable but never writable, by any name: the manifest, the root's `.git`, each trusted file and the directory holding it. */
  readOnly: string[];
  /** Neither readable, listable nor writable: the runtime directory (sessions, status, lock). */
  hidden: string[];
  /** Directories inside the scope that must keep their name: every ancestor of a protected or hidden path between it and the scope root. */
  pinned: string[];
}

/**
 * The policy's input seam. `trusted` is every file pod trusts beyond the manifest:
 * hook scripts, MCP stdio servers' scripts, and (issue 21's pinned inputs) the
 * system prompt file, the output schema, the instruction files. For each one the
 * file itself is protected, and so is the directory holding it (a Python hook
 * imports `json.py` from its own directory) — unless that directory is the scope root,
 * which cannot be read-only —, and every directory between it and the scope root is
 * pinned (`mv scripts scripts.orig; mkdir scripts` would otherwise swap it). The
 * manifest is treated the same way. A path that does not exist yet is protected as
 * planned: it cannot be created.
 */
export interface ProtectionInput {
  manifestFile: string;
  runtimeDir: string;
  /** The scope root, absolute and symlink-free. */
  scopeRoot: string;
  /** Absolute paths of the other files pod trusts (see above). */
  trusted?: readonly string[];
}

export async function protectedPaths(opts: ProtectionInput): Promise<ProtectedSet> {
  const root = opts.scopeRoot;
  const files = await Promise.all([opts.manifestFile, ...(opts.trusted ?? [])].map(realOrPlanned));
  const runtimeDir = await realOrPlanned(opts.runtimeDir);
  const readOnly = new Set<string>([await realOrPlanned(path.join(root, ".git")), ...files]);
  const pinned = new Set<string>();
  for (const f of files) {
    const dir = path.dirname(f);
    if (dir !== root && isInside(root, dir)) readOnly.add(dir);
    for (const d of dirsBetween(root, dir)) pinned.add(d);
  }
  for (const d of dirsBetween(root, runtimeDir)) pinned.add(d);
  // A directory that is read-only keeps its name anyway (it is a mount of its own in the sandbox).
  for (const d of readOnly) pinned.delete(d);
  return { readOnly: [...readOnly], hidden: [runtimeDir], pinned: [...pinned] };
}
