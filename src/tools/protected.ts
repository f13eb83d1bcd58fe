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
  const real = async (p: string) => realpath(p).catch(() => path.resolve(p));
  return {
    readOnly: await Promise.all([opts.manifestFile, path.join(opts.scopeRoot, ".git"), ...(opts.extraReadOnly ?? [])].map(real)),
    hidden: [await real(opts.runtimeDir)],
  };
}
