import { lstat, readdir } from "node:fs/promises";
import type { ScopedFs } from "../tools/scoped-fs.js";
import type { BashConfig, ScopeConfig } from "../tools/types.js";

/**
 * What a Bash call may touch, built from the manifest's [scope] and [tools.bash].
 * One policy, two renderings: bwrap.ts (Linux) and seatbelt.ts (macOS).
 */
export interface SandboxPolicy {
  /** The scope root: the only writable place (besides a private /tmp). */
  root: string;
  /** Existing paths mounted read-only over the writable root: the manifest, `.git/`. */
  readOnly: string[];
  /** Existing paths made empty and unreadable: the runtime dir, and every path `deny` matches now. */
  masked: Array<{ path: string; dir: boolean }>;
  /** false: no network at all; true: the host's network; string[]: only these hosts, through pod's proxy. */
  network: boolean | string[];
  /** The whole environment of the command. */
  env: Record<string, string>;
}

/** The provider credential never enters Bash, whatever `env` says (the manifest refuses it too). */
export const CREDENTIAL_VARS = new Set(["ANTHROPIC_API_KEY", "ANTHROPIC_AUTH_TOKEN"]);

/** HOME and TMPDIR inside the sandbox: a private tmpfs, empty at each call. */
export const SANDBOX_TMP = "/tmp";
export const SANDBOX_HOME = "/tmp/home";

/**
 * The command's environment: a minimal base plus the names the manifest lists.
 * Nothing else of pod's environment (CI secrets, cloud keys) reaches a command.
 */
export function commandEnv(bash: Pick<BashConfig, "env">, from: NodeJS.ProcessEnv = process.env, home = SANDBOX_HOME): Record<string, string> {
  const env: Record<string, string> = {
    PATH: from.PATH ?? "/usr/local/bin:/usr/bin:/bin",
    HOME: home,
    LANG: from.LANG ?? "C.UTF-8",
    TERM: "dumb",
    TMPDIR: home === SANDBOX_HOME ? SANDBOX_TMP : (from.TMPDIR ?? "/tmp"),
    // Tools run non-interactively (no watch mode, no prompts) unless the caller says otherwise.
    CI: from.CI ?? "true",
  };
  for (const name of bash.env) {
    if (CREDENTIAL_VARS.has(name)) continue;
    const v = from[name];
    if (v !== undefined) env[name] = v;
  }
  return env;
}

/** Builds the policy for one call: `deny` is expanded against the tree as it is now. */
export async function buildPolicy(scope: ScopeConfig, bash: Pick<BashConfig, "env" | "network">, fs: ScopedFs): Promise<SandboxPolicy> {
  const masked: SandboxPolicy["masked"] = [];
  for (const p of scope.hidden) {
    const kind = await kindOf(p);
    if (kind) masked.push({ path: p, dir: kind === "dir" });
  }
  // Not inside a masked runtime dir: its contents are gone in the sandbox, and bwrap cannot mount over what is not there.
  if (scope.deny.length > 0) masked.push(...(await deniedPaths(fs, new Set(masked.map((m) => m.path)))));
  const readOnly: string[] = [];
  for (const p of scope.readOnly) if ((await kindOf(p)) !== undefined) readOnly.push(p);
  return { root: scope.root, readOnly, masked, network: bash.network, env: commandEnv(bash) };
}

async function kindOf(p: string): Promise<"dir" | "file" | undefined> {
  try {
    const st = await lstat(p);
    if (st.isSymbolicLink()) return undefined;
    return st.isDirectory() ? "dir" : "file";
  } catch {
    return undefined;
  }
}

/**
 * Every existing path under the root that `deny` matches (a denied directory is
 * masked whole, not entered). The whole tree is walked, .gitignore'd parts too:
 * an ignored `.env` is exactly what deny is for. Symlinks are skipped: masking one
 * would mask its target, and a target inside the root is checked on its own.
 * `.git` is not entered: it is read-only, not denied, unless a deny glob names it.
 */
export async function deniedPaths(fs: ScopedFs, skip: ReadonlySet<string> = new Set()): Promise<SandboxPolicy["masked"]> {
  const out: SandboxPolicy["masked"] = [];
  const queue: Array<{ abs: string; rel: string }> = [{ abs: fs.root, rel: "" }];
  while (queue.length > 0) {
    const batch = queue.splice(0, 32);
    await Promise.all(
      batch.map(async (dir) => {
        let entries;
        try {
          entries = await readdir(dir.abs, { withFileTypes: true });
        } catch {
          return;
        }
        for (const e of entries) {
          const rel = dir.rel ? `${dir.rel}/${e.name}` : e.name;
          const abs = `${dir.abs}/${e.name}`;
          if (e.isSymbolicLink() || skip.has(abs)) continue;
          const isDir = e.isDirectory();
          if (fs.isDenied(rel)) out.push({ path: abs, dir: isDir });
          else if (isDir && e.name !== ".git") queue.push({ abs, rel });
        }
      }),
    );
  }
  return out;
}
