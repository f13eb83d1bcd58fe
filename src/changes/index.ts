/**
 * src/changes/ — what a run changed in its scope: `run_end.files_changed` and `--diff`.
 *
 * Holds: the scope's snapshot at start (snapshot.ts), the comparison at the end
 * (compare.ts), the patch that `git apply` applies to the pre-run tree (patch.ts),
 * git's index and object store read as data (git-index.ts, git-objects.ts,
 * git-repo.ts: pod runs no git here), and the writer of a file the operator named
 * on the command line (src/store/operator-file.ts). docs/changes.md explains the rules.
 *
 * May import: node's built-ins, `diff` (jsdiff, for hunks), ../errors, ../timing,
 * ../store/atomic-file, and from ../tools only the scope's rules (scoped-fs, walk's
 * .gitignore matching, protected, types). Nothing here emits events or knows the run
 * loop: invocation.ts takes a snapshot, gates the tools on it, and puts what
 * `finish` returns on run_end.
 */
import { fstatSync, lstatSync } from "node:fs";
import path from "node:path";
import { asPodError, PodError } from "../errors.js";
import { timing, TIMING } from "../timing.js";
import { protectedPaths } from "../policy/protected.js";
import type { Toolbox } from "../tools/index.js";
import { compareScope, type ScopeChanges } from "./compare.js";
import { writeOperatorFile, type OperatorFile } from "../store/operator-file.js";
import type { Redactor } from "../redact/redactor.js";
import { buildPatch, type Patch } from "./patch.js";
import { DEFAULT_LIMITS, takeSnapshot, type ScopeSnapshot, type SnapshotLimits } from "./snapshot.js";

export { compareScope, type ChangeKind, type FileChange, type ScopeChanges } from "./compare.js";
export { buildPatch, type FileStats, type Patch } from "./patch.js";
export { resolveOperatorFile, writeOperatorFile, type OperatorFile } from "../store/operator-file.js";
export { DEFAULT_LIMITS, takeSnapshot, type ScopeSnapshot, type SnapshotLimits } from "./snapshot.js";

/** What run_end carries (src/events/schema.ts). */
export interface ChangeFields {
  files_changed?: Array<{ path: string; change: "added" | "modified" | "deleted" }>;
  /** Present when the listing hit its limit: files_changed may then miss new files. */
  files_changed_truncated?: true;
}

export interface RunChanges {
  fields: ChangeFields;
  /** The comparison, for whoever needs more than run_end says (a report's diffstat: `(await patchFor(snapshot, changes)).stats`). */
  changes?: ScopeChanges;
  snapshot?: ScopeSnapshot;
  /** The patch, when --diff built it (written or not): its stats need not be counted again. */
  patch?: Patch;
  /** The snapshot failed, or --diff could not be written (the run then ends as an error). */
  error?: PodError;
}

export interface ChangeTracker {
  /** A request is on the wire: the model thinks, and pod's passes over the scope can run. */
  modelAsked(): void;
  /** The same toolbox, each tool waiting for the snapshot before it runs: nothing changes the scope before it is complete. */
  gate(toolbox: Toolbox | undefined): Toolbox | undefined;
  /** Stop hooks (which may run anything) wait for it too. */
  gateStop<F extends ((signal: AbortSignal) => Promise<string | undefined>) | undefined>(onStop: F): F;
  /** Compares the scope with the snapshot; with `diff`, writes the patch there. */
  finish(diff?: OperatorFile): Promise<RunChanges>;
}

export interface TrackOptions {
  /** The run's secrets: a patch that would carry one is not written (the --diff file is an artifact more people read than the log). */
  redactor?: Redactor;
  root: string;
  deny: string[];
  runtimeDir: string;
  manifestFile: string;
  limits?: SnapshotLimits;
}

/**
 * The scope's snapshot and its comparison, done while the model thinks (docs/changes.md,
 * "When pod looks"): both are a pass over every file, so run while pod itself works
 * towards a request they would delay it.
 *
 * - The snapshot starts when the first request is on the wire (`modelAsked`), or when
 *   something that may change the scope would run first (a tool, a stop hook): each waits
 *   for it (POD_TIMING=1's changes_wait says how long).
 * - Ahead of time: once no tool or hook is running and a request is on the wire again, the
 *   comparison runs while the model answers. A tool call or hook that starts makes it
 *   stale (it stops at its next pause); one that is still current when the run ends is
 *   the run's files_changed, so what the run pays at the end is only what is left of it.
 *   Nothing that pod runs for the model writes after it: tools and hooks are over, and
 *   their sandboxes end every process they started.
 */
export function trackChanges(opts: TrackOptions): ChangeTracker {
  let snapshot: Promise<Taken> | undefined;
  /** Tools and hooks running now, and how many have started in all (a comparison of an older count is stale). */
  let writers = 0;
  let started = 0;
  let ahead: Ahead | undefined;

  const takeNow = (): Promise<Taken> =>
    (snapshot ??= (async (): Promise<Taken> => {
      const begun = performance.now();
      const { hidden } = await protectedPaths({ manifestFile: opts.manifestFile, runtimeDir: opts.runtimeDir, scopeRoot: opts.root });
      const snap = await takeSnapshot({ root: opts.root, deny: opts.deny, hidden }, opts.limits ?? DEFAULT_LIMITS);
      if (TIMING) timing({ phase: "changes_snapshot", ms: performance.now() - begun, files: snap.files.size, git: snap.git !== undefined });
      return { snap };
    })().catch((err) => ({ error: new PodError("internal", `could not list the scope's files at the start of the run: ${asPodError(err).message}`, "files_changed and --diff are left out of this run; report the problem") })));

  /** Called only once a request is out (modelAsked): the model is thinking. */
  const compareAhead = (t: Taken) => {
    if (writers > 0 || "error" in t || ahead?.started === started) return;
    const at = started;
    const begun = performance.now();
    const entry: Ahead = {
      started: at,
      // A failure here is met again by the comparison at the end, which reports it.
      changes: compareScope(t.snap, { abandoned: () => started !== at })
        .then((c) => ((entry.ms = performance.now() - begun), c))
        .catch(() => undefined),
    };
    ahead = entry;
  };

  const ready = async () => {
    const t = performance.now();
    await takeNow();
    if (TIMING) timing({ phase: "changes_wait", ms: performance.now() - t });
  };
  /** A tool call or a hook: counted from before it waits for the snapshot until it has ended. */
  const asWriter = async <T>(run: () => Promise<T>): Promise<T> => {
    writers++;
    started++;
    try {
      await ready();
      return await run();
    } finally {
      writers--;
    }
  };

  return {
    modelAsked() {
      void takeNow().then(compareAhead);
    },
    gate(toolbox) {
      if (!toolbox) return toolbox;
      return { ...toolbox, tools: toolbox.tools.map((tool) => ({ ...tool, run: (input, ctx) => asWriter(() => tool.run(input, ctx)) })) };
    },
    gateStop(onStop) {
      if (!onStop) return onStop;
      return ((signal: AbortSignal) => asWriter(() => onStop(signal))) as typeof onStop;
    },
    async finish(diff) {
      const t = await takeNow();
      if ("error" in t) return { fields: {}, error: diff ? new PodError(t.error.code, `${diff.shown}: not written: ${t.error.message}`, t.error.hint) : t.error };
      const endStart = performance.now();
      // The comparison made while the model answered, if nothing has started since; else one now.
      const current = ahead?.started === started && writers === 0 ? ahead : undefined;
      const early = current && (await current.changes);
      let changes: ScopeChanges;
      try {
        changes = early || (await compareScope(t.snap));
      } catch (err) {
        return { fields: {}, error: new PodError("internal", `could not compare the scope with its state at the start of the run: ${asPodError(err).message}`, "report the problem") };
      }
      if (TIMING) {
        // changes_compare: the comparison's own time (ahead: while the model answered); changes_end_wait: what the run's end waited for it.
        const waited = performance.now() - endStart;
        timing({ phase: "changes_compare", ms: early ? current!.ms : waited, ahead: early !== undefined, changed: changes.files.length });
        timing({ phase: "changes_end_wait", ms: waited });
      }
      changes = withoutOwnOutput(changes, opts.root);
      const fields: ChangeFields = {
        files_changed: changes.files.map((f) => ({ path: f.path, change: f.change })),
        ...(changes.truncated ? { files_changed_truncated: true as const } : {}),
      };
      const done = { fields, changes, snapshot: t.snap };
      if (!diff) return done;
      const { error, patch } = await writeDiff(t.snap, changes, diff, opts.redactor);
      return { ...done, ...(patch ? { patch } : {}), ...(error ? { error } : {}) };
    },
  };
}

type Taken = { snap: ScopeSnapshot } | { error: PodError };

/** A comparison started ahead of the end: current while no tool or hook has started since (`started` is the count then). */
interface Ahead {
  started: number;
  changes: Promise<ScopeChanges | undefined>;
  ms?: number;
}

/**
 * pod's own stdout and stderr are not the run's changes: `pod run … > events.jsonl`
 * inside the scope would otherwise list the events file (and put it in --diff's patch,
 * which then no longer applies). Matched by identity (device and inode of fd 1 and 2),
 * not by name, so a file the model writes is never hidden this way.
 */
function withoutOwnOutput(changes: ScopeChanges, root: string): ScopeChanges {
  const own = new Set<string>();
  for (const fd of [1, 2]) {
    try {
      const st = fstatSync(fd);
      if (st.isFile()) own.add(`${st.dev}:${st.ino}`);
    } catch {
      // closed: nothing of pod's there
    }
  }
  if (own.size === 0) return changes;
  const files = changes.files.filter((f) => {
    if (f.change === "deleted") return true;
    const st = lstatSync(path.join(root, f.path), { throwIfNoEntry: false });
    return !st || !own.has(`${st.dev}:${st.ino}`);
  });
  return files.length === changes.files.length ? changes : { ...changes, files };
}

/**
 * The run's patch and its diffstat (`stats`: lines added and removed per file), with the
 * scope's rules: a second name (hardlink) of a denied or hidden file keeps its content
 * out, as from every tool. For --diff, and for whatever shows a run's changes later.
 */
export function patchFor(snap: ScopeSnapshot, changes: ScopeChanges): Promise<Patch> {
  return buildPatch(snap, changes, async (abs) => {
    const st = lstatSync(abs, { throwIfNoEntry: false });
    return st !== undefined && (st.nlink <= 1 || (await snap.fs.checkLinks(st, "read", abs)) === undefined);
  });
}

/** --diff: the patch, written whole or not at all (a partial patch applied by CI would be worse than none). */
async function writeDiff(snap: ScopeSnapshot, changes: ScopeChanges, target: OperatorFile, redactor?: Redactor): Promise<{ error?: PodError; patch?: Patch }> {
  const start = performance.now();
  const shown = target.shown;
  if (changes.truncated) {
    return { error: new PodError("invalid_input", `${shown}: not written: the scope has more untracked files than pod lists (${snap.limits.maxUntracked.toLocaleString("en-US")}), so the patch could miss new files`, "add the build output and other generated files to .gitignore, or narrow [scope] root") };
  }
  let patch: Patch;
  try {
    patch = await patchFor(snap, changes);
  } catch (err) {
    return { error: new PodError("internal", `${shown}: not written: ${asPodError(err).message}`, "report the problem") };
  }
  const refused = patchRefused(snap, patch, shown, redactor);
  if (refused) return { error: refused, patch };
  try {
    await writeOperatorFile(target, patch.data);
  } catch (err) {
    return { error: asPodError(err), patch };
  }
  if (TIMING) timing({ phase: "changes_diff", ms: performance.now() - start, bytes: patch.data.length });
  return { patch };
}

/** Why a patch must not be written: files it cannot carry, or a secret it would. */
function patchRefused(snap: ScopeSnapshot, patch: Patch, shown: string, redactor?: Redactor): PodError | undefined {
  if (patch.missing.length > 0) {
    const list = patch.missing.slice(0, 5).map((m) => `${m.path} (${m.reason})`).join("; ");
    return new PodError(
      "invalid_input",
      `${shown}: not written: ${patch.missing.length} changed file${patch.missing.length === 1 ? "" : "s"} cannot be put in the patch: ${list}${patch.missing.length > 5 ? "; …" : ""}`,
      snap.git ? "commit (or git add) the scope's files before the run, so git holds their content" : "run pod in a git checkout (git init && git add -A), or keep the scope under the 32 MiB pod copies without git",
    );
  }
  // A secret cannot be [redacted] in a patch (it would no longer apply), so a patch that
  // holds one is not written: the operator learns which files, and decides.
  if (!redactor) return undefined;
  // Binary files' content is in the patch deflated and in base85: it is searched as it was.
  const inText = redactor.foundIn(patch.data) ? filesHolding(patch.data, redactor) : [];
  const inBinaries = patch.encoded.filter((e) => e.content.some((c) => redactor.foundIn(c))).map((e) => e.path);
  const files = [...new Set([...inText, ...inBinaries])];
  if (files.length > 0) {
    return new PodError(
      "invalid_input",
      `${shown}: not written: the changes hold the value of a secret (one of [pod] secrets or the provider credential) in ${files.slice(0, 5).join(", ")}${files.length > 5 ? ", …" : ""}; pod never writes a secret to a file`,
      "look at those files (files_changed lists them): remove the secret from the workspace, or keep that variable out of the job's environment",
    );
  }
  return undefined;
}

/** The files whose part of a patch (from its `diff --git a/X b/Y` line to the next) holds a secret. */
function filesHolding(patch: Buffer, redactor: Redactor): string[] {
  const files: string[] = [];
  const header = Buffer.from("diff --git ");
  const nextHeader = Buffer.from("\ndiff --git ");
  let at = patch.indexOf(header);
  while (at !== -1) {
    const next = patch.indexOf(nextHeader, at + 1);
    const part = patch.subarray(at, next === -1 ? patch.length : next + 1);
    if (redactor.foundIn(part)) {
      const line = part.subarray(header.length, part.indexOf(0x0a)).toString("utf8");
      // "a/X b/X": the name after "b/" (quoted names are shown as git wrote them).
      const b = line.lastIndexOf(" b/");
      files.push(b === -1 ? line : line.slice(b + 3));
    }
    at = next === -1 ? -1 : next + 1;
  }
  return files.length > 0 ? files : ["the patch"];
}
