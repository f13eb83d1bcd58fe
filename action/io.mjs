// How the Action's scripts talk to the runner and touch files, in one place: step outputs,
// environment and PATH files, workflow commands, and files written without following a link.
// Imports only node: built-ins (it runs before pod is installed).
import { randomBytes } from "node:crypto";
import { appendFileSync, closeSync, constants, fstatSync, lstatSync, mkdirSync, openSync, realpathSync, rmSync, writeSync } from "node:fs";
import path from "node:path";
import { fileURLToPath } from "node:url";

/**
 * `name<<DELIM … DELIM` blocks for GITHUB_OUTPUT / GITHUB_ENV, the runner's multi-line
 * syntax. The delimiter is random and checked against the value, so no value (a final
 * answer the model wrote, say) can end its block early and write another output.
 */
export function heredocs(values) {
  let text = "";
  for (const [name, raw] of Object.entries(values)) {
    if (!/^[A-Za-z_][\w-]*$/.test(name)) throw new Error(`not an output or variable name: ${JSON.stringify(name)}`);
    const value = String(raw ?? "");
    let delim;
    do delim = `pod_${randomBytes(12).toString("hex")}`;
    while (value.includes(delim));
    text += `${name}<<${delim}\n${value}\n${delim}\n`;
  }
  return text;
}

/** Appends step outputs (no-op outside a runner). */
export function setOutputs(values, env = process.env) {
  if (env.GITHUB_OUTPUT) appendFileSync(env.GITHUB_OUTPUT, heredocs(values));
}

/** Sets variables for the job's later steps. */
export function exportVariables(values, env = process.env) {
  if (env.GITHUB_ENV) appendFileSync(env.GITHUB_ENV, heredocs(values));
}

/** Puts a directory on PATH for the job's later steps. */
export function addPath(dir, env = process.env) {
  if (/[\r\n]/.test(dir)) throw new Error(`a PATH entry cannot hold a line break: ${JSON.stringify(dir)}`);
  if (env.GITHUB_PATH) appendFileSync(env.GITHUB_PATH, `${dir}\n`);
}

// The runner's escaping (actions/runner ActionCommand.cs): data may not hold a line break,
// a property also no `:` or `,`.
export const escapeData = (s) => String(s).replaceAll("%", "%25").replaceAll("\r", "%0D").replaceAll("\n", "%0A");
export const escapeProperty = (s) => escapeData(s).replaceAll(":", "%3A").replaceAll(",", "%2C");

/** One workflow command line, e.g. command("notice", { title: "pod" }, "paused"). Data must already be inert. */
export function command(name, props, data) {
  const p = Object.entries(props ?? {})
    .map(([k, v]) => `${k}=${escapeProperty(v)}`)
    .join(",");
  return `::${name}${p ? ` ${p}` : ""}::${escapeData(data)}`;
}

/** A token no text can guess, for `::stop-commands::`. */
export const stopToken = () => `pod-${randomBytes(16).toString("hex")}`;

/** Whether `p` is `dir` or inside it (both absolute, compared as given). */
export function isInside(p, dir) {
  const rel = path.relative(dir, p);
  return rel === "" || (!rel.startsWith("..") && !path.isAbsolute(rel));
}

/** The real path of `dir` if it exists, else `dir` resolved. */
function real(dir) {
  try {
    return realpathSync(dir);
  } catch {
    return path.resolve(dir);
  }
}

/**
 * Opens `target` as a fresh file for writing, refusing every link the model could have made:
 * under `workspace`, no component below the workspace root may be a symlink (each checked
 * with lstat; missing directories are made one level at a time after the check above them),
 * and the file itself must not exist (O_CREAT|O_EXCL|O_NOFOLLOW). A path outside the
 * workspace that a link leads back into it is refused too. The Action calls this only when
 * no model process runs (before pod starts, or after it has exited), so nothing can swap a
 * component between the checks and the open. Returns the descriptor.
 */
export function openFresh(target, workspace) {
  const abs = path.resolve(target);
  const wsLexical = workspace ? path.resolve(workspace) : undefined;
  const wsReal = workspace ? real(workspace) : undefined;
  const base = wsLexical && isInside(abs, wsLexical) ? wsLexical : wsReal && isInside(abs, wsReal) ? wsReal : undefined;
  if (base !== undefined) {
    if (abs === base) throw new Error(`${abs} is the workspace itself, not a file`);
    const parts = path.relative(base, abs).split(path.sep);
    let cur = base;
    for (const [i, part] of parts.entries()) {
      cur = path.join(cur, part);
      let st;
      try {
        st = lstatSync(cur);
      } catch (err) {
        if (err.code !== "ENOENT") throw err;
        if (i < parts.length - 1) mkdirSync(cur);
        continue;
      }
      if (st.isSymbolicLink()) {
        throw new Error(`${abs}: ${cur} is a symbolic link inside the workspace; the Action writes nothing through a link (leave events-file empty: the events are under $RUNNER_TEMP anyway)`);
      }
      if (i < parts.length - 1 && !st.isDirectory()) throw new Error(`${abs}: ${cur} is not a directory`);
    }
  } else {
    mkdirSync(path.dirname(abs), { recursive: true });
  }
  let fd;
  try {
    fd = openSync(abs, constants.O_WRONLY | constants.O_CREAT | constants.O_EXCL | constants.O_NOFOLLOW, 0o600);
  } catch (err) {
    if (err.code === "EEXIST" || err.code === "ELOOP") {
      throw new Error(`${abs} already exists; the Action writes only fresh files (give each step its own events-file, or leave it empty: the events are under $RUNNER_TEMP anyway)`);
    }
    throw err;
  }
  try {
    if (!fstatSync(fd).isFile()) throw new Error(`${abs} is not a regular file`);
    // Outside the workspace by name, but a link on the way leads into it: refuse.
    if (base === undefined && wsReal !== undefined && isInside(realpathSync(abs), wsReal)) {
      rmSync(abs, { force: true });
      throw new Error(`${abs} leads into the workspace through a link; choose a path that does not`);
    }
  } catch (err) {
    closeSync(fd);
    throw err;
  }
  return fd;
}

/** Writes `data` to a fresh file (openFresh's rules). */
export function writeFresh(target, data, workspace) {
  const fd = openFresh(target, workspace);
  try {
    writeSync(fd, data);
  } finally {
    closeSync(fd);
  }
}

/**
 * A step script's entry: when `moduleUrl` is the script node was asked to run (not an
 * import from a test), runs `main` and makes a thrown error the step's `::error::` line
 * (titled `title`) and exit code 1.
 */
export function runStep(moduleUrl, title, main) {
  if (!process.argv[1] || path.resolve(process.argv[1]) !== fileURLToPath(moduleUrl)) return;
  try {
    process.exitCode = main();
  } catch (err) {
    process.stdout.write(`${command("error", { title }, String(err.message))}\n`);
    process.exitCode = 1;
  }
}
