import { existsSync } from "node:fs";
import { PodError } from "../errors.js";
import { sessionFile } from "./session-store.js";

/**
 * `--session ID` names a stored session: it must be a plain id (no path characters,
 * so it can never point outside the sessions directory) whose file exists. Anything
 * else is `not_found` (exit 2) with the way to list the real ones.
 */
export function requireSession(sessionsDir: string, id: string): void {
  if (!/^[A-Za-z0-9_-]{1,128}$/.test(id) || !existsSync(sessionFile(sessionsDir, id))) {
    throw new PodError("not_found", `no stored session ${JSON.stringify(id)}`, "`pod sessions` lists the stored sessions; `--new` starts a fresh one");
  }
}
