import path from "node:path";
import { dirsBetween, realOrPlanned } from "./paths.js";

/**
 * The paths that make up a pod's own contract (SPEC "Containment"): what the model
 * must never be able to change, whatever `writable` says and whatever it runs.
 * Computed from where the pod actually is, not from the manifest, so no manifest
 * key can turn it off. Every path is absolute and resolved (src/policy/paths.ts's
 * realOrPlanned), whether it exists yet or not.
 */
export interface ProtectedSet {
  /** Readable but never writable, by any name: the manifest, the root's `.git`, each trusted file and trusted directory. */
  readOnly: string[];
  /** Neither readable, listable nor writable: the runtime directory (sessions, status, lock). */
  hidden: string[];
  /** Directories inside the scope that must keep their name: every ancestor of a protected or hidden path between it and the scope root. */
  pinned: string[];
}

/**
 * The policy's input seam. `trusted`: every file pod trusts beyond the manifest —
 * the pinned inputs of src/contract/ (`Pins.files()`: system_prompt_file, the
 * --output-schema file, instruction files, hook and MCP scripts, as named and as
 * real paths, including ones that do not exist yet). Each is read-only by any name,
 * and every directory between it and the scope root is pinned (`mv ci ci.orig; mkdir
 * ci` would otherwise swap `ci/pod.toml`). `trustedDirs`: directories protected whole
 * (`Pins.directories()`: those holding a hook's or MCP server's script, never the
 * scope root — a Python hook imports `json.py` from next to itself), pinned the same
 * way. The manifest is a trusted file. A path that does not exist yet is protected as
 * planned: it cannot be created.
 */
export interface ProtectionInput {
  manifestFile: string;
  runtimeDir: string;
  /** The scope root, absolute and symlink-free. */
  scopeRoot: string;
  /** Absolute paths of the other files pod trusts (see above). */
  trusted?: readonly string[];
  /** Absolute paths of directories pod trusts whole (see above). */
  trustedDirs?: readonly string[];
}

export async function protectedPaths(opts: ProtectionInput): Promise<ProtectedSet> {
  const root = opts.scopeRoot;
  const files = await Promise.all([opts.manifestFile, ...(opts.trusted ?? [])].map(realOrPlanned));
  const dirs = (await Promise.all((opts.trustedDirs ?? []).map(realOrPlanned))).filter((d) => d !== root);
  const runtimeDir = await realOrPlanned(opts.runtimeDir);
  const readOnly = new Set<string>([await realOrPlanned(path.join(root, ".git")), ...files, ...dirs]);
  const pinned = new Set<string>();
  for (const p of [...files, ...dirs, runtimeDir]) for (const d of dirsBetween(root, p)) pinned.add(d);
  // A directory that is read-only keeps its name anyway (it is a mount of its own in the sandbox).
  for (const d of readOnly) pinned.delete(d);
  return { readOnly: [...readOnly], hidden: [runtimeDir], pinned: [...pinned] };
}
