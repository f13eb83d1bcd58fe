import { realpath } from "node:fs/promises";
import path from "node:path";

/**
 * The paths that make up a pod's own contract (SPEC "Containment"): what the model
 * must never be able to change, whatever `writable` says and whatever it runs.
 * Computed from where the pod actually is, not from the manifest, so no manifest
 * key can turn it off.
 */
export interface ProtectedPaths {
  /** Readable but never writable by any tool or by Bash: the manifest in use, `.git/`, hook scripts. */
  readOnly: string[];
  /** Neither readable, listable nor writable: the runtime directory (sessions, status, lock). */
  hidden: string[];
}

export async function protectedPaths(opts: { manifestFile: string; runtimeDir: string; scopeRoot: string; extraReadOnly?: readonly string[] }): Promise<ProtectedPaths> {
  return {
    readOnly: await Promise.all([opts.manifestFile, path.join(opts.scopeRoot, ".git"), ...(opts.extraReadOnly ?? [])].map(realOrPlanned)),
    hidden: [await realOrPlanned(opts.runtimeDir)],
  };
}

/**
 * The real path of `p`, or — if it does not exist yet (a runtime dir or a .git not
 * created) — the real path of its nearest existing ancestor with the rest appended,
 * so it compares equal to the boundary's resolved paths even under a symlinked
 * ancestor (macOS's /var → /private/var).
 */
async function realOrPlanned(p: string): Promise<string> {
  const abs = path.resolve(p);
  const rest: string[] = [];
  for (let cur = abs; ; cur = path.dirname(cur)) {
    try {
      return path.join(await realpath(cur), ...rest);
    } catch {
      if (path.dirname(cur) === cur) return abs;
      rest.unshift(path.basename(cur));
    }
  }
}

