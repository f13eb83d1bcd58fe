import { appendFile, readdir, readFile, writeFile } from "node:fs/promises";
import ignore from "ignore";
import path from "node:path";
import { EXIT, PodError } from "../errors.js";
import { refuse } from "../events/refuse.js";
import { EventSink } from "../events/sink.js";
import { starterManifest } from "./init-template.js";
import { podNameFor } from "../manifest-discovery.js";
import { hostSystem } from "../sandbox/system.js";
import { toolchainReads } from "../sandbox/toolchain.js";
import { eventWriter, manifestPath, resolveFormat, type GlobalOptions } from "./context.js";

export interface InitOptions extends GlobalOptions {
  name?: string;
  force?: boolean;
}

/**
 * `pod init [--name N]`: writes a commented pod.toml. Success talks to people on stderr
 * and leaves stdout empty; a refusal is one `error` line (invalid_input, exit 2), as for
 * every command, so a script sees why.
 */
export async function initCommand(opts: InitOptions): Promise<number> {
  const file = manifestPath(opts);
  const name = opts.name ?? defaultName(path.basename(path.dirname(file)));
  const fail = async (message: string, hint: string) => refuse(new EventSink(await eventWriter(resolveFormat(opts.format))), new PodError("invalid_input", `pod init: ${message}`, hint));
  if (!/^[a-z0-9_-]+$/.test(name)) {
    return fail(`--name ${JSON.stringify(name)} is not a valid pod name`, `use lowercase letters, digits, _ and -, e.g. --name ${defaultName(name)}`);
  }
  try {
    const dir = path.dirname(file);
    const names = new Set(await readdir(dir).catch(() => [] as string[]));
    await writeFile(file, starterManifest(name, await detectTestCommands(dir), await toolchainReads(names, hostSystem())), { flag: opts.force ? "w" : "wx" });
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === "EEXIST") return fail(`${file} already exists`, "edit it, or pass --force to overwrite it");
    return fail(`cannot write ${file}: ${(err as NodeJS.ErrnoException).code}`, "run pod init in a directory you can write to, or pass --manifest <file>");
  }
  const ignored = await ignoreRuntimeDir(path.dirname(file));
  process.stderr.write(`pod init: wrote ${file} (pod "${name}")${ignored ? `; ${ignored}` : ""}. Next: export ANTHROPIC_API_KEY=… and pod run "<task>"\n`);
  return EXIT.finished;
}

/** A directory name made into a valid pod name ("My App" → "my-app"). */
export const defaultName = podNameFor;

/**
 * Adds `.pod/` to the .gitignore beside pod.toml (creating the file if needed), so a
 * later `git add -A` does not commit sessions and status. Leaves the file alone when one
 * of its rules already ignores .pod/. Says what it did, or nothing.
 */
export async function ignoreRuntimeDir(dir: string): Promise<string | undefined> {
  const file = path.join(dir, ".gitignore");
  let text = "";
  try {
    text = await readFile(file, "utf8");
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== "ENOENT") return `could not read ${file} (${(err as NodeJS.ErrnoException).code}); add .pod/ to it yourself`;
  }
  if (ignore().add(text).ignores(".pod/")) return undefined;
  const sep = text === "" || text.endsWith("\n") ? "" : "\n";
  try {
    await appendFile(file, `${sep}# pod's runtime directory: sessions, status, recorded runs (docs/runtime.md)\n.pod/\n`);
  } catch (err) {
    return `could not add .pod/ to ${file} (${(err as NodeJS.ErrnoException).code}); add it yourself`;
  }
  return text === "" ? `wrote ${file} (ignores .pod/)` : `added .pod/ to ${file}`;
}

/**
 * The project's own test commands, as allow patterns, so `pod run "fix the failing
 * test"` can run them out of the box: package.json scripts (npm test, npm run
 * test:*), pytest, go test, cargo test. Found from the files present; nothing runs.
 */
export async function detectTestCommands(dir: string): Promise<string[]> {
  const names = new Set(await readdir(dir).catch(() => [] as string[]));
  const out: string[] = [];
  if (names.has("package.json")) {
    try {
      const pkg = JSON.parse(await readFile(path.join(dir, "package.json"), "utf8")) as { scripts?: Record<string, string>; devDependencies?: Record<string, string>; dependencies?: Record<string, string> };
      const scripts = Object.keys(pkg.scripts ?? {});
      if (scripts.includes("test")) out.push("npm test", "npm test -- *");
      for (const s of scripts) if (s !== "test" && /^test[:_-]/.test(s)) out.push(`npm run ${s}`);
      const deps = { ...pkg.dependencies, ...pkg.devDependencies };
      if ("vitest" in deps) out.push("npx vitest run *");
      if ("jest" in deps) out.push("npx jest *");
    } catch {
      // An unreadable package.json: no npm commands guessed.
    }
  }
  const python = ["pytest.ini", "pyproject.toml", "setup.cfg", "tox.ini", "conftest.py", "setup.py"].some((f) => names.has(f));
  if (python) out.push("pytest", "pytest *", "python -m pytest *");
  if (names.has("go.mod")) out.push("go test ./...", "go test *");
  if (names.has("Cargo.toml")) out.push("cargo test", "cargo test *");
  return out;
}
