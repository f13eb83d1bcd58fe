import { Chalk, supportsColor, type ChalkInstance } from "chalk";
import { hostEnv } from "../env-config.js";

/**
 * chalk for one output stream: colour only on a terminal, unless FORCE_COLOR asks for
 * it (FORCE_COLOR=0 or false turns it off). NO_COLOR (no-color.org), set and non-empty,
 * turns colour off unless FORCE_COLOR asks for it explicitly. chalk alone ignores NO_COLOR.
 */
export function colorsFor(stream: { isTTY?: boolean }, env: NodeJS.ProcessEnv = hostEnv()): ChalkInstance {
  if (env.FORCE_COLOR === "0" || env.FORCE_COLOR === "false") return new Chalk({ level: 0 });
  if (env.FORCE_COLOR !== undefined) {
    const forced = supportsColor ? supportsColor.level : 1;
    return new Chalk({ level: Math.max(forced, 1) as 1 | 2 | 3 });
  }
  if (env.NO_COLOR !== undefined && env.NO_COLOR !== "") return new Chalk({ level: 0 });
  if (!stream.isTTY) return new Chalk({ level: 0 });
  return new Chalk({ level: supportsColor ? supportsColor.level : 1 });
}
