import path from "node:path";
import type { Manifest } from "../manifest.js";

/**
 * The files a hook command or an MCP stdio server runs, found without running anything.
 * Best effort, on purpose generous (pinning a file that is not a script only makes it
 * read-only for the run):
 * - the program itself when it is a path: `./guard.sh`, `bin/check`, `/opt/ci/check`;
 * - an interpreter's script: `python3 hooks/check.py`, `node tools/mcp.mjs`, `bash x.sh`,
 *   `deno run -A x.ts`, and preloads (`node -r ./setup.js`, `--import`);
 * - a shell's inline command, parsed again: `bash -c "./guard.sh --strict"`;
 * - wrappers are looked through: `env A=1 …`, `exec`, `command`, `nice`, `nohup`, `timeout 5 …`;
 * - every other word with a "/" or a script extension ("mentioned": pinned only if it is a
 *   regular file in the workspace).
 * Not understood: words built at run time (`$VAR`, `$(…)`, globs), `python -m module`,
 * `npx package`, and what a script loads by itself (its directory is protected instead).
 * docs/security.md lists these.
 */
export interface ScriptRef {
  /** Absolute path, resolved against the directory the command runs in. */
  path: string;
  /** The program or the interpreter's script: must be a regular file (or absent) inside the boundary. */
  strict: boolean;
  /** Who runs it, for messages: `[[hooks.pre_tool_use]] "sh x.sh"`, `[mcp.github]`. */
  owner: string;
}

const SHELLS = new Set(["sh", "bash", "dash", "zsh", "ksh", "ash", "mksh"]);
const INTERPRETERS = /^(python[0-9.]*|pypy[0-9.]*|node|nodejs|deno|bun|ruby|perl|php|tsx|ts-node|lua|Rscript|osascript)$/;
const WRAPPERS = new Set(["exec", "command", "nohup", "time", "builtin"]);
/** Options of an interpreter that take the next word as their value. */
const VALUE_OPTIONS = new Set(["-W", "-X", "-o", "-O", "--title", "--conditions", "-C", "--env-file", "--config", "-I", "--input-type"]);
/** Options whose value is a file the interpreter loads first (pinned like the script). */
const PRELOAD_OPTIONS = new Set(["-r", "--require", "--import", "--loader", "--experimental-loader", "--env-file"]);
/** Options after which there is no script: inline code or a module. */
const NO_SCRIPT_OPTIONS = new Set(["-c", "-e", "-m", "-p", "--eval", "--print", "-E"]);
const SCRIPT_EXTENSION = /\.(sh|bash|zsh|py|js|mjs|cjs|ts|mts|cts|rb|pl|php|lua|ps1|jar|toml|json|ya?ml)$/i;

/** Every script the manifest's hooks and stdio MCP servers run. */
export function trustedScripts(manifest: Pick<Manifest, "file" | "scopeRoot" | "data">): ScriptRef[] {
  // Hooks and MCP servers run in the scope root, or the manifest's directory without a scope.
  const cwd = manifest.scopeRoot ?? path.dirname(manifest.file);
  const out: ScriptRef[] = [];
  const { hooks, mcp } = manifest.data;
  for (const [event, list] of Object.entries(hooks)) {
    for (const h of list) {
      const owner = `[[hooks.${event}]] ${JSON.stringify(h.command)}`;
      for (const s of scriptsOfShell(h.command, 0)) out.push({ path: path.resolve(cwd, s.word), strict: s.strict, owner });
    }
  }
  for (const [name, server] of Object.entries(mcp)) {
    if (!server.command) continue;
    for (const s of scriptsOfWords(server.command, 0)) out.push({ path: path.resolve(cwd, s.word), strict: s.strict, owner: `[mcp.${name}]` });
  }
  return out;
}

type Found = { word: string; strict: boolean };

/** The scripts of a shell command line (what `sh -c` runs). */
export function scriptsOfShell(command: string, depth: number): Found[] {
  return shellSegments(command).flatMap((words) => scriptsOfWords(words, depth));
}

/** The scripts of one simple command, given as its words (an argv). */
export function scriptsOfWords(argv: readonly string[], depth: number): Found[] {
  const found: Found[] = [];
  const words = [...argv];
  let i = 0;
  // Leading assignments and wrappers: `A=1 env -i B=2 nice -n 5 timeout 10 ./x.sh`.
  for (;;) {
    const w = words[i];
    if (w === undefined) return found;
    if (/^[A-Za-z_][A-Za-z0-9_]*=/.test(w)) i++;
    else if (WRAPPERS.has(w)) i++;
    else if (w === "env") {
      i++;
      while (words[i] !== undefined && (words[i]!.startsWith("-") || /^[A-Za-z_][A-Za-z0-9_]*=/.test(words[i]!))) i += words[i] === "-u" ? 2 : 1;
    } else if (w === "nice") i += words[i + 1] === "-n" ? 3 : 1;
    else if (w === "timeout") {
      i++;
      while (words[i]?.startsWith("-")) i += words[i] === "-s" || words[i] === "-k" ? 2 : 1;
      i++; // the duration
    } else break;
  }
  const program = words[i]!;
  const base = path.basename(program);
  const rest = words.slice(i + 1);
  if (SHELLS.has(base) || INTERPRETERS.test(base)) {
    if (program.includes("/") && !isSystemPath(program)) found.push({ word: program, strict: true });
    let j = 0;
    if (base === "deno" && ["run", "test", "serve"].includes(rest[0] ?? "")) j = 1;
    if (base === "bun" && rest[0] === "run") j = 1;
    for (; j < rest.length; j++) {
      const w = rest[j]!;
      if (w === "--") {
        j++;
        break;
      }
      if (!w.startsWith("-") || w === "-") break;
      const [flag, inline] = w.includes("=") ? [w.slice(0, w.indexOf("=")), w.slice(w.indexOf("=") + 1)] : [w, undefined];
      if (SHELLS.has(base) && /^-[a-z]*c[a-z]*$/.test(w)) {
        // `bash -c "cmd"` / `sh -ec "cmd"`: the command string is parsed like a hook command.
        if (rest[j + 1] !== undefined && depth < 3) found.push(...scriptsOfShell(rest[j + 1]!, depth + 1));
        return found.concat(mentioned(rest.slice(j + 2)));
      }
      if (NO_SCRIPT_OPTIONS.has(flag)) return found.concat(mentioned(rest.slice(j + 1)));
      if (PRELOAD_OPTIONS.has(flag)) {
        const value = inline ?? rest[++j];
        if (value !== undefined && isPathLike(value)) found.push({ word: value, strict: true });
      } else if (VALUE_OPTIONS.has(flag) && inline === undefined) j++;
    }
    const script = rest[j];
    if (script !== undefined && isResolvable(script)) found.push({ word: script, strict: true });
    return found.concat(mentioned(rest.slice(j + 1)));
  }
  if (program.includes("/") && isResolvable(program) && !isSystemPath(program)) found.push({ word: program, strict: true });
  return found.concat(mentioned(rest));
}

function mentioned(words: readonly string[]): Found[] {
  return words.flatMap((w) => {
    const value = w.startsWith("-") && w.includes("=") ? w.slice(w.indexOf("=") + 1) : w;
    return isPathLike(value) && !isSystemPath(value) ? [{ word: value, strict: false }] : [];
  });
}

function isResolvable(w: string): boolean {
  return w !== "" && !/[$`*?[\]{}~]/.test(w) && !/^[a-z][a-z0-9+.-]*:\/\//i.test(w);
}

function isPathLike(w: string): boolean {
  return isResolvable(w) && !w.startsWith("-") && (w.includes("/") || SCRIPT_EXTENSION.test(w));
}

/** Interpreters and devices: never pinned (the model cannot write them, and /dev/stdin is no script). */
function isSystemPath(w: string): boolean {
  return /^\/(usr|bin|sbin|lib|lib64|etc|dev|proc|sys|opt\/homebrew)\//.test(w);
}

/**
 * A shell command line as simple commands, each a list of words, as `sh` would split it:
 * quotes and backslashes, `;` `&&` `||` `|` `&` newlines and parentheses between commands,
 * redirections dropped with their target, `#` comments. Words with expansions are kept
 * as written (and later skipped as unresolvable).
 */
export function shellSegments(command: string): string[][] {
  const segments: string[][] = [];
  let words: string[] = [];
  let word = "";
  let inWord = false;
  let skipNext = false;
  const endWord = () => {
    if (inWord) {
      if (skipNext) skipNext = false;
      else words.push(word);
    }
    word = "";
    inWord = false;
  };
  const endSegment = () => {
    endWord();
    if (words.length) segments.push(words);
    words = [];
  };
  for (let i = 0; i < command.length; i++) {
    const c = command[i]!;
    if (c === "'") {
      const close = command.indexOf("'", i + 1);
      const end = close === -1 ? command.length : close;
      word += command.slice(i + 1, end);
      inWord = true;
      i = end;
    } else if (c === '"') {
      inWord = true;
      for (i++; i < command.length && command[i] !== '"'; i++) {
        if (command[i] === "\\" && i + 1 < command.length && '"\\$`\n'.includes(command[i + 1]!)) i++;
        word += command[i];
      }
    } else if (c === "\\") {
      if (i + 1 < command.length && command[i + 1] !== "\n") word += command[i + 1];
      inWord = inWord || command[i + 1] !== "\n";
      i++;
    } else if (c === "#" && !inWord) {
      const nl = command.indexOf("\n", i);
      i = nl === -1 ? command.length : nl - 1;
    } else if (c === ";" || c === "&" || c === "|" || c === "\n" || c === "(" || c === ")") {
      endSegment();
    } else if (c === ">" || c === "<") {
      // A redirection: `2>file`, `> file`, `>>file`, `<&3`: the target is not a command word.
      if (inWord && /^\d+$/.test(word)) {
        word = "";
        inWord = false;
      } else endWord();
      while (command[i + 1] === ">" || command[i + 1] === "&" || command[i + 1] === "|") i++;
      skipNext = true;
    } else if (c === " " || c === "\t") {
      endWord();
    } else {
      word += c;
      inWord = true;
    }
  }
  endSegment();
  return segments;
}
