import { readdirSync, type Dirent } from "node:fs";
import path from "node:path";
import ignore, { type Ignore } from "ignore";
import picomatch from "picomatch";
import type { ScopedFs } from "./scoped-fs.js";
import { openRegular } from "./regular-file.js";

export interface WalkedFile {
  abs: string;
  /** Relative to the scope root, with forward slashes. */
  rel: string;
}

export interface IgnoreLayer {
  /** Directory of the .gitignore, relative to the scope root ("" for the root). */
  base: string;
  /**
   * Rules without a slash (but a trailing one) match a name at any depth: they are
   * compiled by picomatch into one test of the entry's name (`dirs` holds the rules
   * with a trailing slash too). The `ignore` library takes ~1.4 us a call (it caches
   * every path it sees and checks its parents): two thirds of Glob's time on a
   * 50k-file tree.
   */
  byName: { files: (name: string) => boolean; dirs: (name: string) => boolean } | undefined;
  /** The other rules (or all of them if any is a negation, whose order matters), matched on the path. */
  byPath: Ignore | undefined;
}

/**
 * The ignore rules that apply in a directory: its own .gitignore's layer first, then
 * its parents' (git's precedence, isIgnored), as a chain. A chain, not an array,
 * because every link has one hidden class: arrays of layers had several (an empty
 * literal's, a spread's), and each new one met in a user's call threw away the
 * walk's compiled code (~45 ms of V8's optimizing compiler, on the cores the search
 * needs). `undefined` is no rules.
 */
export interface Layers {
  readonly layer: IgnoreLayer;
  readonly up: Layers | undefined;
}

/** `layers` with `layer` (a deeper directory's, or a later file's) taking precedence. */
export function withLayer(layers: Layers | undefined, layer: IgnoreLayer | undefined): Layers | undefined {
  return layer ? { layer, up: layers } : layers;
}

const PARALLEL_DIRS = 16;
/** Longest stretch of synchronous work (directories read, entries matched) before the walk yields to the event loop. */
const SLICE_MS = 5;

/**
 * Whether a directory's entries hold a .gitignore file. A function of its own, not
 * a closure made for each directory: traced (--trace-deopt), that closure's compare,
 * inlined into the walk's optimized code, threw the code away in a user's first
 * Grep ("insufficient type feedback"), and V8 compiled the walk again meanwhile.
 */
function holdsGitignore(entries: Dirent[]): boolean {
  for (let i = 0; i < entries.length; i++) {
    const e = entries[i]!;
    if (e.name === ".gitignore" && e.isFile()) return true;
  }
  return false;
}

/**
 * Lists the files under `startAbs` the way a developer's tools would: .gitignore
 * files (nested ones too, via the `ignore` library) and the scope's deny globs
 * are honoured, ignored directories are not entered, `.git` is skipped, and
 * symlinks are not followed (so a walk can never leave the scope). The runtime dir
 * is skipped too (ScopedFs.isDenied counts it as denied). Files are handed to
 * `onFiles` one directory at a time, with directories read in parallel; an aborted
 * signal stops the walk between directories (and within a huge one).
 */
export async function walkFiles(
  fs: ScopedFs,
  startAbs: string,
  onFiles: (files: WalkedFile[]) => void | Promise<void>,
  signal?: AbortSignal,
): Promise<void> {
  const startRel = fs.relative(startAbs);
  const layers = await ancestorLayers(fs, startRel);
  // The signal, read as a flag of one shape: an AbortSignal's hidden class changes as
  // it is listened to and aborted, and each new one deoptimized the walk's compiled
  // code in a run's first Grep calls (the warm-up's signal, then each call's): ~45 ms
  // of V8's optimizing compiler each time, on the cores the search needs.
  const stop = { aborted: signal?.aborted ?? false };
  const onAbort = () => {
    stop.aborted = true;
  };
  signal?.addEventListener("abort", onAbort, { once: true });
  try {
    await walkTree(fs, { abs: startAbs, rel: startRel, layers }, onFiles, stop);
  } finally {
    signal?.removeEventListener("abort", onAbort);
  }
}

async function walkTree(
  fs: ScopedFs,
  start: { abs: string; rel: string; layers: Layers | undefined },
  onFiles: (files: WalkedFile[]) => void | Promise<void>,
  stop: { aborted: boolean },
): Promise<void> {
  const queue: Array<{ abs: string; rel: string; layers: Layers | undefined }> = [start];
  let active = 0;
  let failure: unknown;
  const slices = new Slices();
  await new Promise<void>((resolve) => {
    const pump = () => {
      const stopping = failure !== undefined || stop.aborted;
      while (!stopping && active < PARALLEL_DIRS && queue.length > 0) {
        const dir = queue.pop()!;
        active++;
        visit(dir)
          .catch((err) => (failure ??= err))
          .finally(() => {
            active--;
            pump();
          });
      }
      // One way out, for a walk stopped (Grep's warm-up, a limit) and one that ran to
      // its end, its compare always made: traced, V8's code for this, compiled during
      // the warm-up's stopped walks, was thrown away in a user's first whole walk
      // (no feedback for the compare, then another resolve than the one it had seen).
      if (active === 0 && (queue.length === 0 || stopping)) resolve();
    };

    const visit = async (dir: { abs: string; rel: string; layers: Layers | undefined }) => {
      // Directories are read synchronously, in slices of SLICE_MS between which the
      // event loop runs (a cancel lands there): through the thread pool, readdir cost
      // a round trip per directory and put more threads on the cores (Grep's workers
      // need them); Glob measured slower that way too, even with the cores to itself.
      let entries;
      try {
        entries = readdirSync(dir.abs, { withFileTypes: true });
      } catch {
        return; // unreadable or vanished directory: skip it, as rg does
      }
      let here = dir.layers;
      if (holdsGitignore(entries)) {
        here = withLayer(here, await readLayer(path.join(dir.abs, ".gitignore"), dir.rel));
      }
      const files: WalkedFile[] = [];
      for (let i = 0; i < entries.length; i++) {
        // Once the slice is over, the event loop turns (a cancel lands there): checked as
        // a directory's entries start, and every 1024 of them, since a directory with a
        // million entries is a long synchronous loop. (One place for both: a call site
        // that only huge directories reach was first run in a user's call, and V8
        // threw the walk's compiled code away there.)
        if ((i & 1023) === 0 && slices.over()) {
          await slices.next();
          if (stop.aborted) return;
        }
        const e = entries[i]!;
        const rel = dir.rel ? `${dir.rel}/${e.name}` : e.name;
        if (e.isDirectory()) {
          if (e.name === ".git" || fs.isDenied(rel) || isIgnored(here, rel, true)) continue;
          queue.push({ abs: `${dir.abs}/${e.name}`, rel, layers: here });
        } else if (e.isFile()) {
          if (fs.isDenied(rel) || isIgnored(here, rel, false)) continue;
          // Plain concatenation: path.join per entry is measurable on 50k-file trees.
          files.push({ abs: `${dir.abs}/${e.name}`, rel });
        }
      }
      if (files.length) await onFiles(files);
    };

    pump();
  });
  if (failure !== undefined) throw failure;
}

/**
 * The walk's time slices. One event-loop turn for the whole walk when a slice is over,
 * however many directories are in flight: every visit that finds the slice over waits
 * for the same turn, and the next slice starts once. (A turn per visit let each of the
 * PARALLEL_DIRS resumed visits start a slice of its own within one check phase: 16 × 5
 * ms without a turn, in which Grep's workers sat idle, their replies unread.) A class,
 * not closures made per walk: a call to another walk's closure threw the walk's
 * compiled code away ("wrong call target").
 */
class Slices {
  private end = performance.now() + SLICE_MS;
  private turn: Promise<void> | undefined;

  over(): boolean {
    return performance.now() > this.end;
  }

  next(): Promise<void> {
    return (this.turn ??= new Promise<void>((resolve) =>
      setImmediate(() => {
        this.turn = undefined;
        this.end = performance.now() + SLICE_MS;
        resolve();
      }),
    ));
  }
}

/**
 * git's precedence: the deepest .gitignore with a rule for the path decides (a
 * `!keep.log` in a subdirectory re-includes what the root's `*.log` excludes), and
 * within one file the last matching rule does.
 */
export function isIgnored(layers: Layers | undefined, rel: string, isDir: boolean): boolean {
  for (let l = layers; l !== undefined; l = l.up) {
    const { base, byName, byPath } = l.layer;
    const sub = base ? rel.slice(base.length + 1) : rel;
    if (byName && (isDir ? byName.dirs : byName.files)(sub.slice(sub.lastIndexOf("/") + 1))) return true;
    if (byPath) {
      const verdict = byPath.test(isDir ? `${sub}/` : sub);
      if (verdict.ignored) return true;
      if (verdict.unignored) return false;
    }
  }
  return false;
}

/** git ignores .gitignore files larger than this (100 MiB, since git 2.32); so does pod. */
const GITIGNORE_MAX_BYTES = 100 * 1024 * 1024;

/**
 * Reads one .gitignore through a descriptor (src/tools/regular-file.ts): a FIFO, a device
 * or a symlink named .gitignore is skipped at once, never waited on or followed. Before,
 * a FIFO .gitignore above a Glob's path hung the run past --timeout and `pod cancel`.
 */
async function readGitignore(file: string): Promise<string | undefined> {
  const opened = await openRegular(file, file);
  if (!opened.ok) return undefined;
  try {
    if (opened.st.size > GITIGNORE_MAX_BYTES) return undefined;
    return await opened.handle.readFile("utf8");
  } catch {
    return undefined;
  } finally {
    await opened.handle.close().catch(() => {});
  }
}

export async function readLayer(file: string, base: string): Promise<IgnoreLayer | undefined> {
  const text = await readGitignore(file);
  if (text === undefined) return undefined;
  return layerFromText(text, base);
}

const never = () => false;

/** The rules of one .gitignore's text, for paths under `base`. */
export function layerFromText(text: string, base: string): IgnoreLayer {
  const rules = text.split(/\r?\n/).filter((l) => l.trim() !== "" && !l.startsWith("#"));
  // With a negation, the last matching rule decides: keep every rule together, in order.
  // Braces and parentheses mean something to picomatch and nothing to git: those too.
  if (rules.some((r) => r.startsWith("!") || /[{}()]/.test(r))) return { base, byName: undefined, byPath: ignore().add(text) };
  const names: string[] = [];
  const dirNames: string[] = [];
  const paths: string[] = [];
  for (const rule of rules) {
    // git drops trailing spaces unless the last one is escaped.
    const r = rule.replace(/(?<!\\) +$/, "");
    // git's "[!a]" is picomatch's "[^a]".
    const name = (r.endsWith("/") ? r.slice(0, -1) : r).replace(/(?<!\\)\[!/g, "[^");
    if (name.includes("/") || name === "") paths.push(rule);
    else (r.endsWith("/") ? dirNames : names).push(name);
  }
  const options = { dot: true, nobrace: true, noextglob: true, nonegate: true };
  const files = names.length ? picomatch(names, options) : never;
  const dirs = names.length + dirNames.length ? picomatch([...names, ...dirNames], options) : never;
  // Every layer has the same three fields, in the same order: one hidden class for the
  // walk's compiled code (a new shape met deep in a tree deoptimized it mid-call).
  return {
    base,
    byName: names.length + dirNames.length ? { files, dirs } : undefined,
    byPath: paths.length ? ignore().add(paths) : undefined,
  };
}

/** .gitignore files of the directories between the root and a start below it. */
async function ancestorLayers(fs: ScopedFs, startRel: string): Promise<Layers | undefined> {
  let layers: Layers | undefined;
  const parts = startRel ? startRel.split("/") : [];
  for (let i = 0; i < parts.length; i++) {
    const base = parts.slice(0, i).join("/");
    layers = withLayer(layers, await readLayer(path.join(fs.root, base, ".gitignore"), base));
  }
  return layers;
}
