// `pod export` / `pod import` (issue 24, item 4): a pod's state in one checksummed .tar.gz,
// carried between CI jobs and machines.
//
//   bundle.json                      {format, v, pod, created_at, pod_version, session, files: {path: {size, sha256}}}
//   pod/manifest.toml                the manifest snapshot
//   pod/status.json                  (when its session is in the bundle)
//   pod/sessions/<id>.jsonl          the session(s)
//   pod/runs/<run_id>/…              their recorded runs
//
// Nothing in a pod's runtime directory depends on where it is (paths in it are relative to
// the scope root, read proofs are content hashes), so nothing is rewritten on the way.
// Import trusts nothing in the bundle: it is parsed in memory, every entry's name and type
// and every checksum checked, and only then is anything written, through a staging directory.
import { createHash, randomBytes } from "node:crypto";
import { existsSync } from "node:fs";
import { mkdir, open, readdir, readFile, rename, rm, rmdir, stat } from "node:fs/promises";
import path from "node:path";
import { gunzipSync, gzipSync } from "node:zlib";
import { PodError } from "../errors.js";
import { acquirePodLock, type HeldLock } from "../store/lock.js";
import { isSessionId, podPaths, type PodPaths } from "../store/paths.js";
import { SessionStore } from "../store/session-store.js";
import { readStatus } from "../store/status.js";
import { syncDir } from "../store/atomic-file.js";
import { VERSION } from "../version.js";
import { HISTORY_FILE, isRunId, RECORDS_FILE, RUN_FILE } from "./format.js";
import { readUstar, writeUstar, type UstarEntry } from "./ustar.js";

export const BUNDLE_FORMAT = "pod-bundle";
export const BUNDLE_VERSION = 1;
/** A bundle larger than this, packed or unpacked, is refused (50 recordings of long runs fit many times over). */
export const MAX_BUNDLE_BYTES = 2 * 1024 ** 3;

interface BundleIndex {
  format: typeof BUNDLE_FORMAT;
  v: number;
  pod: string;
  created_at: string;
  pod_version: string;
  /** `--session`: the one session exported; null for all. */
  session: string | null;
  files: Record<string, { size: number; sha256: string }>;
}

export interface ExportSummary {
  file: string;
  pod: string;
  sessions: number;
  runs: number;
  bytes: number;
  sha256: string;
}

const sha256 = (b: Buffer) => createHash("sha256").update(b).digest("hex");

/**
 * Packs the pod's state into `outFile` (written to a temp file beside it, then renamed: a
 * failed export never leaves half a bundle under its name). Holds the pod lock while it
 * reads, so the snapshot is one state of the pod (a running pod is `already_running`).
 */
export async function exportPod(runtimeDir: string, podName: string, outFile: string, session?: string): Promise<ExportSummary> {
  const paths = podPaths(runtimeDir, podName);
  if (!existsSync(paths.dir)) throw new PodError("not_found", `pod "${podName}" has no state in ${runtimeDir} yet`, "run it first (`pod run \"…\"`), or point --runtime-dir at the directory that holds it");
  if (session !== undefined && !isSessionId(session)) throw new PodError("not_found", `"${session.slice(0, 80)}" is not a session id`, "`pod sessions` lists the stored sessions");
  const lock = await acquirePodLock(paths.dir, paths.lock, { onCompromised: () => {} });
  let files: Map<string, Buffer>;
  try {
    files = await collect(paths, session);
  } finally {
    await lock.release().catch(() => {});
  }
  const index: BundleIndex = {
    format: BUNDLE_FORMAT,
    v: BUNDLE_VERSION,
    pod: podName,
    created_at: new Date().toISOString(),
    pod_version: VERSION,
    session: session ?? null,
    files: Object.fromEntries([...files].map(([p, b]) => [p, { size: b.length, sha256: sha256(b) }])),
  };
  const target = path.resolve(outFile);
  const tmp = path.join(path.dirname(target), `.${path.basename(target)}.${randomBytes(4).toString("hex")}.tmp`);
  const bytes = gzipSync(writeUstar([{ name: "bundle.json", data: Buffer.from(JSON.stringify(index, null, 2) + "\n") }, ...[...files].sort(([a], [b]) => (a < b ? -1 : 1)).map(([name, data]) => ({ name, data }))]));
  try {
    const handle = await open(tmp, "wx", 0o644);
    try {
      await handle.writeFile(bytes);
      await handle.sync();
    } finally {
      await handle.close();
    }
    await rename(tmp, target);
    await syncDir(path.dirname(target));
  } catch (err) {
    await rm(tmp, { force: true }).catch(() => {});
    throw new PodError("invalid_input", `cannot write ${target} (${(err as NodeJS.ErrnoException).code ?? (err as Error).message})`, "give -o a path in a writable directory");
  }
  const sessions = [...files.keys()].filter((p) => p.startsWith("pod/sessions/")).length;
  const runs = [...files.keys()].filter((p) => p.endsWith(`/${RUN_FILE}`)).length;
  return { file: target, pod: podName, sessions, runs, bytes: bytes.length, sha256: sha256(bytes) };
}

/** The files of the bundle, by their path in it. Append-only files are cut after their last whole line. */
async function collect(paths: PodPaths, session: string | undefined): Promise<Map<string, Buffer>> {
  const files = new Map<string, Buffer>();
  const read = async (file: string) => readFile(file).catch((err: NodeJS.ErrnoException) => (err.code === "ENOENT" ? undefined : Promise.reject(err)));
  const whole = (b: Buffer) => b.subarray(0, b.lastIndexOf(10) + 1);
  const manifest = await read(paths.manifest);
  if (manifest) files.set("pod/manifest.toml", manifest);
  const status = await readStatus(paths.status).catch(() => undefined);
  const sessions = (await readdir(paths.sessions).catch(() => [] as string[]))
    .filter((n) => n.endsWith(".jsonl") && isSessionId(n.slice(0, -6)))
    .map((n) => n.slice(0, -6))
    .filter((id) => session === undefined || id === session);
  if (session !== undefined && sessions.length === 0) throw new PodError("not_found", `no stored session ${session}`, "`pod sessions` lists the stored sessions");
  if (status && sessions.includes(status.session_id)) files.set("pod/status.json", (await read(paths.status))!);
  for (const id of sessions) files.set(`pod/sessions/${id}.jsonl`, whole((await read(path.join(paths.sessions, `${id}.jsonl`)))!));
  const runs = path.join(paths.dir, "runs");
  for (const id of (await readdir(runs).catch(() => [] as string[])).filter(isRunId)) {
    const meta = await read(path.join(runs, id, RUN_FILE));
    if (!meta) continue;
    let sessionOf: unknown;
    try {
      sessionOf = (JSON.parse(meta.toString("utf8")) as { session_id?: unknown }).session_id;
    } catch {
      continue; // a damaged recording stays behind
    }
    if (typeof sessionOf !== "string" || !sessions.includes(sessionOf)) continue;
    files.set(`pod/runs/${id}/${RUN_FILE}`, meta);
    for (const name of [HISTORY_FILE, RECORDS_FILE]) {
      const b = await read(path.join(runs, id, name));
      if (b) files.set(`pod/runs/${id}/${name}`, whole(b));
    }
  }
  return files;
}

/** What a path in a bundle may be; anything else is refused. Returns the path relative to the pod dir. */
function podRelative(p: string): string | undefined {
  const m = /^pod\/(manifest\.toml|status\.json|sessions\/([^/]+)\.jsonl|runs\/([^/]+)\/(run\.json|history\.jsonl|records\.jsonl))$/.exec(p);
  if (!m) return undefined;
  if (m[2] !== undefined && !isSessionId(m[2])) return undefined;
  if (m[3] !== undefined && !isRunId(m[3])) return undefined;
  return m[1];
}

export interface ImportSummary {
  pod: string;
  dir: string;
  sessions: number;
  runs: number;
  status: string | null;
  session_id: string | null;
}

const damagedBundle = (file: string, why: string) => new PodError("invalid_input", `the bundle ${file} is damaged or not a pod bundle: ${why}; nothing was written`, "export it again with `pod export -o FILE`, and check the transfer (artifact upload/download) kept it whole");
const refusedEntry = (file: string, why: string) => new PodError("invalid_input", `the bundle ${file} ${why}; nothing was written`, "import only bundles made by `pod export`");

/** Reads and checks a bundle completely, in memory: entry names and types, the index, every checksum. */
export async function readBundle(file: string): Promise<{ index: BundleIndex; files: Map<string, Buffer> }> {
  let size: number;
  try {
    const st = await stat(file);
    if (!st.isFile()) throw Object.assign(new Error("not a regular file"), { code: "EINVAL" });
    size = st.size;
  } catch (err) {
    throw new PodError("invalid_input", `cannot read the bundle ${file} (${(err as NodeJS.ErrnoException).code ?? (err as Error).message})`, "give the path of a .tar.gz made by `pod export`");
  }
  if (size > MAX_BUNDLE_BYTES) throw new PodError("invalid_input", `the bundle ${file} is ${size} bytes, more than pod imports (${MAX_BUNDLE_BYTES}, unpacked too)`, "export one session (`pod export --session ID`) or fewer runs ([pod] keep_runs)");
  let tar: UstarEntry[];
  try {
    tar = readUstar(gunzipSync(await readFile(file), { maxOutputLength: MAX_BUNDLE_BYTES }));
  } catch (err) {
    throw damagedBundle(file, (err as Error).message);
  }
  const entries = new Map<string, Buffer>();
  for (const entry of tar) {
    const problem = entryProblem(entry);
    if (problem) throw refusedEntry(file, problem);
    if (entry.type === "Directory") continue;
    if (entries.has(entry.name)) throw refusedEntry(file, `holds ${JSON.stringify(entry.name)} twice`);
    entries.set(entry.name, entry.data);
  }
  const indexBytes = entries.get("bundle.json");
  if (!indexBytes) throw damagedBundle(file, "it has no bundle.json");
  let index: BundleIndex;
  try {
    index = JSON.parse(indexBytes.toString("utf8")) as BundleIndex;
  } catch {
    throw damagedBundle(file, "bundle.json is not JSON");
  }
  if (index?.format !== BUNDLE_FORMAT || typeof index.files !== "object" || index.files === null || typeof index.pod !== "string") throw damagedBundle(file, "bundle.json is not a pod bundle index");
  if (typeof index.v !== "number" || index.v > BUNDLE_VERSION) throw new PodError("invalid_input", `the bundle ${file} is of format ${index.v}, newer than this pod reads (${BUNDLE_VERSION}); nothing was written`, "import it with the pod version that exported it, or a newer one");
  const files = new Map<string, Buffer>();
  for (const [p, want] of Object.entries(index.files)) {
    if (podRelative(p) === undefined) throw refusedEntry(file, `lists ${JSON.stringify(p)}, which is not a file of a pod`);
    const got = entries.get(p);
    if (!got) throw damagedBundle(file, `${p} is missing`);
    if (got.length !== want?.size || sha256(got) !== want.sha256) throw damagedBundle(file, `${p} does not match its checksum`);
    files.set(p, got);
  }
  for (const p of entries.keys()) if (p !== "bundle.json" && !files.has(p)) throw refusedEntry(file, `holds ${JSON.stringify(p)}, which bundle.json does not list`);
  return { index, files };
}

/** Why an entry may not be imported: a link, a device, a name outside the bundle's layout. */
function entryProblem(entry: UstarEntry): string | undefined {
  const name = entry.name;
  const show = JSON.stringify(name.slice(0, 200));
  if (entry.type !== "File" && entry.type !== "Directory") return `holds ${show}, a ${entry.type} entry (only regular files are imported)`;
  if (entry.linkname) return `holds ${show} with a link target`;
  if (name.includes("\0") || name.includes("\\")) return `holds an entry with a strange name (${show})`;
  if (path.posix.isAbsolute(name) || /^[A-Za-z]:/.test(name)) return `holds ${show}, an absolute path`;
  if (name.split("/").includes("..")) return `holds ${show}, which would land outside the runtime directory`;
  const clean = name.replace(/\/+$/, "");
  if (entry.type === "Directory") return clean === "pod" || /^pod\/(sessions|runs|runs\/[^/]+)$/.test(clean) ? undefined : `holds the directory ${show}, which is not part of a pod`;
  if (clean !== "bundle.json" && podRelative(clean) === undefined) return `holds ${show}, which is not a file of a pod`;
  return undefined;
}

/**
 * Unpacks a checked bundle into `<runtimeDir>/<pod>/`. Refuses (before writing anything) a
 * bundle of another pod, a pod that is running (`already_running`, held by its lock), and
 * without `force` a pod whose session history is not a beginning of the bundle's (the
 * bundle would lose turns). A pod that had no state is put in place with one rename; an
 * existing one gets its files replaced one by one, status.json last, each atomically, and a
 * session file that `force` replaces is kept as `<file>.replaced-<time>`.
 */
export async function importBundle(file: string, runtimeDir: string, podName: string, opts: { force?: boolean } = {}): Promise<ImportSummary> {
  const { index, files } = await readBundle(file);
  if (index.pod !== podName) {
    throw new PodError("invalid_input", `the bundle ${file} holds pod "${index.pod}", not "${podName}" (this manifest's); nothing was written`, `import it where pod.toml names the pod "${index.pod}" (-C DIR or --manifest FILE)`);
  }
  const paths = podPaths(runtimeDir, podName);
  // Every session and status must load before anything is written.
  const stage = path.join(runtimeDir, `.import-${randomBytes(4).toString("hex")}`);
  const staged = path.join(stage, podName);
  // A runtime directory made only for the staging goes again if the import does not happen.
  const madeRuntimeDir = !existsSync(runtimeDir);
  let imported = false;
  try {
    await mkdir(staged, { recursive: true });
    for (const [p, b] of files) {
      const to = path.join(staged, podRelative(p)!);
      await mkdir(path.dirname(to), { recursive: true });
      const h = await open(to, "wx");
      try {
        await h.writeFile(b);
        await h.sync();
      } finally {
        await h.close();
      }
    }
    const sessions = [...files.keys()].flatMap((p) => /^pod\/sessions\/(.+)\.jsonl$/.exec(p)?.[1] ?? []);
    for (const id of sessions) await SessionStore.openReadOnly(path.join(staged, "sessions"), id).catch((err: PodError) => Promise.reject(damagedBundle(file, `session ${id}: ${err.message}`)));
    const status = files.has("pod/status.json") ? await readStatus(path.join(staged, "status.json")).catch((err: PodError) => Promise.reject(damagedBundle(file, `status.json: ${err.message}`))) : undefined;
    if (status && status.pod !== podName) throw damagedBundle(file, `its status.json is of pod "${status.pod}"`);
    if (status && !sessions.includes(status.session_id)) throw damagedBundle(file, `its status.json names session ${status.session_id}, which it does not hold`);
    const runs = new Set([...files.keys()].flatMap((p) => /^pod\/runs\/([^/]+)\//.exec(p)?.[1] ?? []));

    // A pod with no state here: the staged directory becomes it, in one rename.
    if (!existsSync(paths.dir)) {
      await mkdir(runtimeDir, { recursive: true });
      try {
        await rename(staged, paths.dir);
        await syncDir(runtimeDir);
        imported = true;
        return { pod: podName, dir: paths.dir, sessions: sessions.length, runs: runs.size, status: status?.status ?? null, session_id: status?.session_id ?? null };
      } catch (err) {
        if (!["EEXIST", "ENOTEMPTY"].includes((err as NodeJS.ErrnoException).code ?? "")) throw err;
        // Someone made it meanwhile: go the careful way below.
      }
    }
    let lock: HeldLock;
    try {
      lock = await acquirePodLock(paths.dir, paths.lock, { onCompromised: () => {} });
    } catch (err) {
      if (err instanceof PodError && err.code === "already_running") {
        throw new PodError("already_running", `${err.message}; the bundle was not imported`, "import it once the pod is paused or idle (`pod status`; `pod cancel` stops a run)");
      }
      throw err;
    }
    try {
      await checkHistory(paths, staged, sessions, status, file, opts.force === true);
      const stamp = Date.now();
      await mkdir(paths.sessions, { recursive: true });
      await mkdir(path.join(paths.dir, "runs"), { recursive: true });
      for (const id of runs) {
        const to = path.join(paths.dir, "runs", id);
        if (existsSync(to)) await rename(to, path.join(paths.dir, "runs", `.removing-${id}`)).then(() => rm(path.join(paths.dir, "runs", `.removing-${id}`), { recursive: true, force: true }));
        await rename(path.join(staged, "runs", id), to);
      }
      for (const id of sessions) {
        const to = path.join(paths.sessions, `${id}.jsonl`);
        if (opts.force && existsSync(to) && !(await isPrefix(to, path.join(staged, "sessions", `${id}.jsonl`)))) await rename(to, `${to}.replaced-${stamp}`);
        await rename(path.join(staged, "sessions", `${id}.jsonl`), to);
      }
      if (files.has("pod/manifest.toml")) await rename(path.join(staged, "manifest.toml"), paths.manifest);
      await syncDir(paths.sessions);
      await syncDir(path.join(paths.dir, "runs"));
      if (status) await rename(path.join(staged, "status.json"), paths.status);
      await syncDir(paths.dir);
    } finally {
      await lock.release().catch(() => {});
    }
    imported = true;
    return { pod: podName, dir: paths.dir, sessions: sessions.length, runs: runs.size, status: status?.status ?? null, session_id: status?.session_id ?? null };
  } finally {
    await rm(stage, { recursive: true, force: true }).catch(() => {});
    if (madeRuntimeDir && !imported) await rmdir(runtimeDir).catch(() => {});
  }
}

/**
 * The pod here may be replaced only by a bundle that continues it: each of its sessions the
 * bundle also holds must be a beginning of the bundle's copy, and its current session (when
 * the bundle would make another one current) must be in the bundle or hold nothing.
 */
async function checkHistory(paths: PodPaths, staged: string, sessions: readonly string[], status: { session_id: string } | undefined, file: string, force: boolean): Promise<void> {
  if (force) return;
  const differs = (what: string) =>
    new PodError("invalid_input", `the pod here (${paths.dir}) ${what}, so importing ${file} would lose turns; nothing was written`, "import into a fresh runtime directory (--runtime-dir), or pass --force to replace it (replaced sessions are kept as <file>.replaced-<time>)");
  for (const id of sessions) {
    const here = path.join(paths.sessions, `${id}.jsonl`);
    if (existsSync(here) && !(await isPrefix(here, path.join(staged, "sessions", `${id}.jsonl`)))) throw differs(`has session ${id} with a history that is not a beginning of the bundle's`);
  }
  const current = await readStatus(paths.status).catch(() => undefined);
  if (status && current && current.session_id !== status.session_id && !sessions.includes(current.session_id)) {
    const store = await SessionStore.openReadOnly(paths.sessions, current.session_id).catch(() => undefined);
    if (store && store.allMessages().length > 0) throw differs(`has a current session (${current.session_id}) with ${store.allMessages().length} messages that the bundle does not hold`);
  }
}

/** Whether file `a`'s bytes are a beginning of file `b`'s. */
async function isPrefix(a: string, b: string): Promise<boolean> {
  const [x, y] = await Promise.all([readFile(a), readFile(b)]);
  return x.length <= y.length && y.subarray(0, x.length).equals(x);
}
