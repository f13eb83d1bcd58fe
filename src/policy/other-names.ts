import type { Dirent, Stats } from "node:fs";
import { lstat, readdir } from "node:fs/promises";
import path from "node:path";
import type { Entry } from "./scan.js";

/** In a `.git`, what is not looked at for other names: content-addressed objects (often hardlinked by `git clone --local`), and LFS's. */
const GIT_SKIP = new Set(["objects", "lfs"]);

export interface OtherNames {
  /** Other names of masked files: masked too. */
  masked: string[];
  /** Other names of read-only files: read-only too. */
  readOnly: string[];
  /** Other names of a sanitized file, with the file whose sanitized copy they get. */
  sanitized: Array<{ path: string; of: string }>;
}

/**
 * Hardlinks made before the run (`cp -al`, `rsync --link-dest`, a restored cache) are
 * other names of a protected or denied file, and the sandbox's mounts are names. Only
 * a file whose link count is > 1 has another name, so: stat the files the view masks,
 * protects and sanitizes; only if one of them has nlink > 1 is the scope walked with a
 * stat per file to find where its other names are. On an ordinary checkout that is
 * never, and the whole cost is the first step. (A command cannot make a new link to
 * one of them: each is a mount of its own in the sandbox, and link() across mounts is
 * EXDEV. The file tools never make links.)
 */
export async function otherNames(
  root: string,
  groups: { masked: readonly Entry[]; readOnly: readonly Entry[]; sanitized: readonly string[] },
  opts: { skip: ReadonlySet<string>; signal?: AbortSignal | undefined },
): Promise<OtherNames> {
  const out: OtherNames = { masked: [], readOnly: [], sanitized: [] };
  const wanted = new Map<string, { kind: keyof OtherNames; of: string; seen: Set<string> }>();
  const want = (st: Stats, file: string, kind: keyof OtherNames) => {
    if (st.nlink <= 1) return;
    const key = `${st.dev}:${st.ino}`;
    const w = wanted.get(key);
    // The strongest treatment wins: masked over sanitized over read-only.
    if (!w || rank(kind) > rank(w.kind)) wanted.set(key, { kind, of: file, seen: new Set([...(w?.seen ?? []), file]) });
    else w.seen.add(file);
  };
  for (const [kind, entries] of [
    ["masked", groups.masked],
    ["readOnly", groups.readOnly],
    ["sanitized", groups.sanitized.map((p) => ({ path: p, dir: false }))],
  ] as const) {
    for (const e of entries) await eachFile(e.path, (file, st) => want(st, file, kind), opts.signal);
  }
  if (wanted.size === 0) return out;

  // Somewhere in the scope is another name: find it with a stat per file.
  const stack = [root];
  while (stack.length > 0) {
    if (opts.signal?.aborted) throw new Error("cancelled");
    const dir = stack.pop()!;
    let entries: Dirent[];
    try {
      entries = await readdir(dir, { withFileTypes: true });
    } catch {
      continue;
    }
    const files: string[] = [];
    for (const e of entries) {
      const abs = path.join(dir, e.name);
      if (opts.skip.has(abs)) continue;
      if (e.isDirectory() && e.name !== ".git") stack.push(abs);
      else if (e.isFile()) files.push(abs);
    }
    const stats = await Promise.all(files.map((f) => lstat(f).catch(() => undefined)));
    stats.forEach((st, i) => {
      if (!st || st.nlink <= 1) return;
      const w = wanted.get(`${st.dev}:${st.ino}`);
      if (!w || w.seen.has(files[i]!)) return;
      if (w.kind === "sanitized") out.sanitized.push({ path: files[i]!, of: w.of });
      else out[w.kind].push(files[i]!);
    });
  }
  return out;
}

const rank = (k: keyof OtherNames) => (k === "masked" ? 2 : k === "sanitized" ? 1 : 0);

/** Calls `fn` for every regular file at or under `p` (symlinks not followed; a `.git`'s objects skipped). */
async function eachFile(p: string, fn: (file: string, st: Stats) => void, signal?: AbortSignal): Promise<void> {
  const st = await lstat(p).catch(() => undefined);
  if (!st) return;
  if (st.isFile()) return fn(p, st);
  if (!st.isDirectory()) return;
  const stack = [p];
  while (stack.length > 0) {
    if (signal?.aborted) throw new Error("cancelled");
    const dir = stack.pop()!;
    const entries = await readdir(dir, { withFileTypes: true }).catch(() => [] as Dirent[]);
    const inGit = path.basename(dir) === ".git";
    const files: string[] = [];
    for (const e of entries) {
      const abs = path.join(dir, e.name);
      if (e.isDirectory()) {
        if (!(inGit && GIT_SKIP.has(e.name))) stack.push(abs);
      } else if (e.isFile()) files.push(abs);
    }
    const stats = await Promise.all(files.map((f) => lstat(f).catch(() => undefined)));
    stats.forEach((s, i) => s && fn(files[i]!, s));
  }
}
