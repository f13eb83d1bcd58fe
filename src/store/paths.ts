import path from "node:path";
import { hostEnv, podEnv } from "../env-config.js";

/** Where a pod's files live: `<runtime-dir>/<pod name>/`. */
export interface PodPaths {
  dir: string;
  manifest: string;
  status: string;
  sessions: string;
  lock: string;
}

export function podPaths(runtimeDir: string, podName: string): PodPaths {
  const dir = path.join(runtimeDir, podName);
  return {
    dir,
    manifest: path.join(dir, "manifest.toml"),
    status: path.join(dir, "status.json"),
    sessions: path.join(dir, "sessions"),
    lock: path.join(dir, "lock"),
  };
}

/** What newSessionId makes: `20260101T000000Z-a1b2c3`. Nothing else is a session id (it becomes a file name). */
export const SESSION_ID = /^\d{8}T\d{6}Z-[0-9a-f]{6}$/;

export function isSessionId(id: string): boolean {
  return SESSION_ID.test(id);
}

/** `--runtime-dir`, else $POD_RUNTIME_DIR, else `.pod/` next to the manifest. */
export function resolveRuntimeDir(flag: string | undefined, manifestFile: string, env = hostEnv()): string {
  if (flag) return path.resolve(flag);
  const fromEnv = podEnv(env).runtimeDir;
  if (fromEnv) return path.resolve(fromEnv);
  return path.join(path.dirname(manifestFile), ".pod");
}
