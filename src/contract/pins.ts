import { createHash } from "node:crypto";
import { closeSync, constants, fstatSync, lstatSync, openSync, readSync, realpathSync } from "node:fs";
import path from "node:path";
import { PodError } from "../errors.js";
import type { Manifest } from "../manifest.js";
import { boundaryRefusal, isInside, trustBoundary, type TrustBoundary } from "./boundary.js";
import { identityOf, readTrusted, sameIdentity, type FileIdentity, type TrustedFile } from "./read.js";
import { trustedScripts } from "./scripts.js";

/** What a pinned input is, for messages. */
export type PinRole = "manifest" | "system_prompt_file" | "output_schema" | "instructions" | "script";

interface Pin {
  role: PinRole;
  /** Absolute path as named. */
  path: string;
  /** How messages name it: relative to the workspace root when inside it. */
  shown: string;
  /** undefined: the path did not exist at start (a hook script not written yet): it must stay that way. */
  real: string | undefined;
  identity: FileIdentity | undefined;
  sha256: string | undefined;
}

export interface PinInputs {
  /** The manifest in use; `manifest.source` is undefined for a zero-config run (no file to pin). */
  manifest: Pick<Manifest, "file" | "scopeRoot" | "data" | "source" | "systemPromptSource">;
  runtimeDir: string;
  /** The --output-schema file as read at start (src/runtime/structured-output.ts). */
  outputSchema?: TrustedFile | undefined;
  /** The instruction files the system prompt included (src/prompt/instructions.ts). */
  instructions?: readonly TrustedFile[] | undefined;
}

/**
 * Pins every trusted input of a run (SPEC "Containment"): the files already read at
 * start (manifest, system_prompt_file, output schema, instruction files) are checked
 * against the workspace boundary and pinned as read; hook and stdio MCP scripts are read
 * (hashed) here. A trusted input that breaks the boundary, or a script that is not a
 * regular file, refuses the run (invalid_input / invalid_manifest, exit 2) before the
 * pod is taken. Call once per invocation, before the lock.
 */
export async function pinTrustedInputs(inputs: PinInputs): Promise<Pins> {
  const { manifest } = inputs;
  const boundary = trustBoundary(manifest, inputs.runtimeDir);
  const shown = (p: string) => {
    for (const root of [boundary.lexicalRoot, boundary.root]) if (isInside(root, p) && p !== root) return path.relative(root, p).split(path.sep).join("/");
    return p;
  };
  const pins: Pin[] = [];
  const warnings: string[] = [];
  const take = (role: PinRole, f: TrustedFile, refuse: (why: string) => PodError) => {
    const why = boundaryRefusal(boundary, f.path, f.real, shown(f.path));
    if (why) throw refuse(why);
    pins.push({ role, path: f.path, shown: shown(f.path), real: f.real, identity: f.identity, sha256: f.sha256 });
  };

  if (manifest.source) {
    take("manifest", manifest.source, (why) => new PodError("invalid_manifest", `the manifest ${manifest.file}: ${why}`, "point -C/--manifest at the operator's own pod.toml, not a link into the workspace's reach"));
  }
  if (manifest.systemPromptSource) {
    take("system_prompt_file", manifest.systemPromptSource, (why) => new PodError("invalid_manifest", `[pod] system_prompt_file: ${why}`, "point system_prompt_file at a regular file inside the workspace that [scope] deny does not hide"));
  }
  if (inputs.outputSchema) {
    take("output_schema", inputs.outputSchema, (why) => new PodError("invalid_input", `--output-schema: ${why}`, "give the path of the schema file itself, not a link out of the workspace or into a denied file"));
  }
  // Already checked when they were read (a refused one is skipped, src/prompt/instructions.ts).
  for (const f of inputs.instructions ?? []) pins.push({ role: "instructions", path: f.path, shown: shown(f.path), real: f.real, identity: f.identity, sha256: f.sha256 });

  const dirs = new Set<string>();
  const seen = new Set(pins.map((p) => p.path));
  for (const ref of trustedScripts(manifest)) {
    if (seen.has(ref.path)) continue;
    seen.add(ref.path);
    const name = shown(ref.path);
    const read = await readTrusted(ref.path, name, { keep: false });
    if (!read.ok) {
      if (!ref.strict) continue;
      if (read.reason !== "missing") throw new PodError("invalid_input", `${ref.owner}: ${read.message}`, "point the command at a regular file (a script or a program)");
      // Not there yet: the hook fails when it runs, as it would have; the model must not write it.
      pins.push({ role: "script", path: ref.path, shown: name, real: undefined, identity: undefined, sha256: undefined });
      addDir(dirs, boundary, path.dirname(ref.path), warnings, name);
      continue;
    }
    const why = boundaryRefusal(boundary, ref.path, read.file.real, name);
    if (why) {
      if (!ref.strict) continue;
      throw new PodError("invalid_input", `${ref.owner}: ${why}`, "point the command at the script's real path");
    }
    pins.push({ role: "script", path: ref.path, shown: name, real: read.file.real, identity: read.file.identity, sha256: read.file.sha256 });
    if (ref.strict) {
      addDir(dirs, boundary, path.dirname(ref.path), warnings, name);
      addDir(dirs, boundary, path.dirname(read.file.real), warnings, name);
    }
  }
  return new Pins(pins, [...dirs], warnings, boundary);
}

/**
 * A script's directory is protected whole (a Python hook imports `json` from next to
 * itself; a node script loads `./lib.mjs`). Not when it is the workspace root (the whole
 * scope would be read-only): then the operator is told. Outside the workspace the model
 * cannot write anyway.
 */
function addDir(dirs: Set<string>, b: TrustBoundary, dir: string, warnings: string[], script: string): void {
  const inside = isInside(b.root, dir) ? b.root : isInside(b.lexicalRoot, dir) ? b.lexicalRoot : undefined;
  if (inside === undefined) return;
  if (dir === inside) {
    const w = `${script} is at the workspace root, so only the script itself is protected, not files it loads from next to it; move hook and MCP scripts into a directory of their own (e.g. tools/hooks/)`;
    if (!warnings.includes(w)) warnings.push(w);
    return;
  }
  dirs.add(dir);
}

/**
 * The pinned trusted inputs of one run. `files()` and `directories()` feed the protection
 * policy (read-only for every tool and Bash); `verify()` says whether any input changed.
 */
export class Pins {
  constructor(
    private readonly pins: Pin[],
    private readonly dirs: string[],
    /** Things pinning could not protect fully, for run_start.warnings. */
    readonly warnings: readonly string[],
    private readonly boundary: TrustBoundary,
  ) {}

  /** No inputs at all (nothing to verify). */
  static none(): Pins {
    return new Pins([], [], [], { root: "/", lexicalRoot: "/", hidden: [], isDenied: () => false });
  }

  /**
   * Every pinned file as absolute paths: the path as named and, where links lead
   * elsewhere, the real path too. Includes paths that did not exist at start (they must
   * not be created). For the protection policy: each is read-only, and its ancestors
   * inside the workspace must not be renamed.
   */
  files(): string[] {
    const out = new Set<string>();
    for (const p of this.pins) {
      out.add(p.path);
      if (p.real !== undefined) out.add(p.real);
    }
    return [...out];
  }

  /**
   * Directories whose whole content is protected: those holding a hook's or an MCP
   * server's script (never the workspace root). Nothing may be created, changed or
   * renamed inside them.
   */
  directories(): string[] {
    return [...this.dirs];
  }

  /**
   * Checks that every pinned input (or only the one at `file`, as named or real) is still
   * the file pod read at start: same real path, same inode, same bytes, and a path that
   * did not exist still does not. Cheap when nothing changed (a realpath and a stat per
   * file; bytes are hashed again only when size, mtime or ctime moved). Returns the
   * `contract_changed` error for the first one that changed, else undefined.
   */
  verify(file?: string): PodError | undefined {
    for (const pin of this.pins) {
      if (file !== undefined && pin.path !== file && pin.real !== file) continue;
      const what = changeOf(pin);
      if (what !== undefined) {
        return new PodError(
          "contract_changed",
          `${pin.shown} (${describeRole(pin.role)}) ${what} during the run; pod stops rather than trust it`,
          "find what changed it (a tool call, a hook, a process outside pod), restore the operator's version, then run again",
        );
      }
    }
    return undefined;
  }

  /** Where the pins' boundary is (the workspace root), for callers that show paths. */
  get root(): string {
    return this.boundary.root;
  }
}

function describeRole(role: PinRole): string {
  switch (role) {
    case "manifest":
      return "the pod's manifest";
    case "system_prompt_file":
      return "[pod] system_prompt_file";
    case "output_schema":
      return "the --output-schema file";
    case "instructions":
      return "an instruction file";
    case "script":
      return "a script a hook or MCP server runs";
  }
}

/** How `pin` changed, in words, or undefined when it is as pinned. Synchronous: a few syscalls per file. */
function changeOf(pin: Pin): string | undefined {
  if (pin.real === undefined) {
    try {
      lstatSync(pin.path);
      return "did not exist at start and was created";
    } catch (err) {
      const code = (err as NodeJS.ErrnoException).code;
      return code === "ENOENT" || code === "ENOTDIR" ? undefined : `did not exist at start and cannot be checked now (${code})`;
    }
  }
  let real: string;
  try {
    real = realpathSync.native(pin.path);
  } catch (err) {
    return `was removed or moved (${(err as NodeJS.ErrnoException).code})`;
  }
  if (real !== pin.real) return `now leads to ${real}, not ${pin.real}`;
  let fd: number;
  try {
    // O_NONBLOCK: a FIFO put in its place is not waited on.
    fd = openSync(real, constants.O_RDONLY | constants.O_NONBLOCK | constants.O_NOFOLLOW);
  } catch (err) {
    return `cannot be opened any more (${(err as NodeJS.ErrnoException).code})`;
  }
  try {
    const st = fstatSync(fd, { bigint: true });
    if (!st.isFile()) return "is no longer a regular file";
    const now = identityOf(st);
    const was = pin.identity!;
    if (now.dev !== was.dev || now.ino !== was.ino) return "was replaced by another file";
    if (sameIdentity(now, was)) return undefined;
    // Touched (size, mtime or ctime): the bytes decide.
    if (hashFd(fd) !== pin.sha256) return "was changed";
    pin.identity = now;
    return undefined;
  } finally {
    closeSync(fd);
  }
}

function hashFd(fd: number): string {
  const hash = createHash("sha256");
  const buf = Buffer.allocUnsafe(64 * 1024);
  for (let pos = 0; ; ) {
    const n = readSync(fd, buf, 0, buf.length, pos);
    if (n === 0) break;
    hash.update(buf.subarray(0, n));
    pos += n;
  }
  return hash.digest("hex");
}
