/**
 * src/policy/ — the one protection policy (SPEC "Containment"): what the model may
 * never write (the manifest, trusted files and the directories holding them, every
 * `.git`), never see (the runtime dir, `deny`), by any name (case and Unicode
 * folding, symlinks, hardlinks made before the run), and which workspace files hold
 * credentials. Both doors are derived from it: the file tools (src/tools/scoped-fs.ts
 * asks it about each path) and the OS sandbox (src/sandbox/ renders its
 * `ProtectedView` as mounts).
 *
 * May import: node builtins and picomatch. Nothing from src/tools/, src/sandbox/ or
 * src/runtime/: they depend on it, not the other way.
 *
 * - protected.ts      the input seam: protectedPaths({ manifestFile, runtimeDir, scopeRoot, trusted })
 * - protection.ts     the Protection class: name rules for the file tools, sandboxView() for the sandbox
 * - scan.ts           the one walk of the scope (deny matches, every .git, sockets)
 * - other-names.ts    hardlinks made before the run, for the sandbox
 * - linked-inodes.ts  hardlinks, for the file tools (refused by inode)
 * - git-credentials.ts  credentials in git's config files: redaction, run_start warnings
 * - paths.ts          folding, globs, resolved-or-planned paths
 */
export { protectedPaths, type ProtectedSet, type ProtectionInput } from "./protected.js";
export { Protection, type ProtectedView, type ProtectionConfig } from "./protection.js";
export { credentialWarnings, redactGitConfig, REDACTED } from "./git-credentials.js";
export type { Entry } from "./scan.js";
