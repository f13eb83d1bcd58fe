import { lstat, readdir, readFile } from "node:fs/promises";
import path from "node:path";

/**
 * Credentials a checkout leaves in git's configuration (SPEC "Containment": a
 * credential in the workspace never reaches the model). actions/checkout's default
 * `persist-credentials: true` writes `http.https://github.com/.extraheader =
 * AUTHORIZATION: basic <token>` into `.git/config` (and each submodule's config);
 * other CI systems put the token in the remote's URL. What counts:
 * - `http.extraheader` / `http.<url>.extraheader`, whatever the header;
 * - every value in a `[credential]` or `[credential "<url>"]` section (a helper can
 *   carry a password inline);
 * - the userinfo of a URL anywhere in the file (`https://x-access-token:TOKEN@host`),
 *   in a value or a section name: always for http(s)/ftp, and for other schemes when it
 *   holds a password (`ssh://git@host` keeps its user name).
 * Each is replaced by `[redacted]`; every other line is kept as it is, so git still
 * reads the file and the model still sees the remotes and branches.
 */
export const REDACTED = "[redacted]";

export interface Redaction {
  text: string;
  /** The keys that held a credential, as git names them (`http.https://github.com/.extraheader`). */
  keys: string[];
}

const URL_USERINFO = /\b([a-z][a-z0-9+.-]*):\/\/([^\s/@"'\\]+)@/gi;

function redactUrls(s: string): string {
  return s.replace(URL_USERINFO, (all, scheme: string, userinfo: string) =>
    /^(https?|ftps?)$/i.test(scheme) || userinfo.includes(":") ? `${scheme}://${REDACTED}@` : all,
  );
}

export function redactGitConfig(text: string): Redaction {
  const keys: string[] = [];
  let section = "";
  let sub = "";
  let continuing = false;
  const lines = text.split("\n").map((line) => {
    if (continuing) {
      // The rest of a redacted value continued with a trailing backslash.
      continuing = /\\\r?$/.test(line);
      return REDACTED;
    }
    const header = /^\s*\[\s*([A-Za-z0-9.-]+)(?:\s+"((?:[^"\\]|\\.)*)")?\s*\]/.exec(line);
    if (header) {
      // [section "sub"] or the old [section.sub] form.
      const name = header[1]!;
      const dot = name.indexOf(".");
      section = (dot < 0 ? name : name.slice(0, dot)).toLowerCase();
      sub = header[2] ?? (dot < 0 ? "" : name.slice(dot + 1));
      const redacted = redactUrls(line);
      if (redacted !== line) keys.push(`${section}.${sub}`);
      return redacted;
    }
    const kv = /^(\s*)([A-Za-z][A-Za-z0-9-]*)(\s*=\s*)(.*)$/.exec(line);
    if (!kv) return line;
    const [, indent, key, eq, value] = kv as unknown as [string, string, string, string, string];
    const name = `${section}${sub ? `.${sub}` : ""}.${key}`;
    if ((section === "http" && key.toLowerCase() === "extraheader") || section === "credential") {
      keys.push(name);
      continuing = /\\\r?$/.test(value);
      return `${indent}${key}${eq}${REDACTED}`;
    }
    const redacted = redactUrls(value);
    if (redacted === value) return line;
    keys.push(name);
    return `${indent}${key}${eq}${redacted}`;
  });
  return { text: lines.join("\n"), keys };
}

/**
 * Whether a root-relative path (real, `/`-separated) names one of git's configuration
 * files inside a `.git`: `.git/config`, `.git/config.worktree`, a submodule's
 * `.git/modules/<name>/config`, a worktree's `.git/worktrees/<name>/config.worktree`.
 */
export function isGitConfigPath(rel: string): boolean {
  const parts = rel.toLowerCase().split("/");
  const base = parts.at(-1);
  return (base === "config" || base === "config.worktree") && parts.slice(0, -1).includes(".git");
}

/** Git's configuration files inside one `.git` directory (its own, its submodules', its worktrees'). */
export async function gitConfigFiles(gitDir: string): Promise<string[]> {
  const out: string[] = [];
  const visit = async (dir: string, depth: number): Promise<void> => {
    for (const name of ["config", "config.worktree"]) {
      const f = path.join(dir, name);
      if ((await lstat(f).catch(() => undefined))?.isFile()) out.push(f);
    }
    if (depth > 8) return;
    for (const sub of ["modules", "worktrees"]) {
      const entries = await readdir(path.join(dir, sub), { withFileTypes: true }).catch(() => []);
      // A submodule's gitdir is .git/modules/<name> (nested names keep their slashes).
      for (const e of entries) if (e.isDirectory()) await visit(path.join(dir, sub, e.name), depth + 1);
    }
  };
  await visit(gitDir, 0);
  return out;
}

/** Larger files are not git configs anyone writes by hand; they are left to the name rules. */
const MAX_CONFIG_BYTES = 1 << 20;

/** Each git config file of `gitDir` that holds a credential, with its redacted text. */
export async function credentialFiles(gitDir: string): Promise<Array<{ path: string } & Redaction>> {
  const out: Array<{ path: string } & Redaction> = [];
  for (const f of await gitConfigFiles(gitDir)) {
    const st = await lstat(f).catch(() => undefined);
    if (!st || st.size > MAX_CONFIG_BYTES) continue;
    const text = await readFile(f, "utf8").catch(() => undefined);
    if (text === undefined) continue;
    const r = redactGitConfig(text);
    if (r.keys.length > 0) out.push({ path: f, ...r });
  }
  return out;
}

/**
 * The `run_start` warnings for the scope root's repository: one per config file that
 * holds credentials, naming the keys (never their values) and the fix.
 */
export async function credentialWarnings(scopeRoot: string): Promise<string[]> {
  const gitDir = path.join(scopeRoot, ".git");
  if (!(await lstat(gitDir).catch(() => undefined))?.isDirectory()) return [];
  return (await credentialFiles(gitDir)).map(
    (f) =>
      `${path.relative(scopeRoot, f.path)} holds credentials (${[...new Set(f.keys)].join(", ")}): pod redacts them from Read and Grep and shows Bash a copy without them, ` +
      "but they are on disk for every other process; check out with `persist-credentials: false` (actions/checkout) so they are not written at all",
  );
}
