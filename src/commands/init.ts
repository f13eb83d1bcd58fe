import { writeFile } from "node:fs/promises";
import path from "node:path";
import { EXIT } from "../errors.js";
import { starterManifest } from "../manifest.js";
import { manifestPath, type GlobalOptions } from "./context.js";

export interface InitOptions extends GlobalOptions {
  name?: string;
  force?: boolean;
}

/** `pod init [--name N]`: writes a commented pod.toml. Talks to people on stderr; stdout stays empty. */
export async function initCommand(opts: InitOptions): Promise<number> {
  const file = manifestPath(opts);
  const name = opts.name ?? defaultName(path.basename(path.dirname(file)));
  if (!/^[a-z0-9_-]+$/.test(name)) {
    process.stderr.write(`pod init: --name "${name}" is not a valid pod name: use lowercase letters, digits, _ and -\n`);
    return EXIT.usage;
  }
  try {
    await writeFile(file, starterManifest(name), { flag: opts.force ? "w" : "wx" });
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === "EEXIST") {
      process.stderr.write(`pod init: ${file} already exists; edit it, or pass --force to overwrite it\n`);
      return EXIT.usage;
    }
    process.stderr.write(`pod init: cannot write ${file}: ${(err as NodeJS.ErrnoException).code}\n`);
    return EXIT.usage;
  }
  process.stderr.write(`pod init: wrote ${file} (pod "${name}"). Next: export ANTHROPIC_API_KEY=… and pod run "<task>"\n`);
  return EXIT.finished;
}

/** A directory name made into a valid pod name ("My App" → "my-app"). */
export function defaultName(dirName: string): string {
  const name = dirName.toLowerCase().replace(/[^a-z0-9_-]+/g, "-").replace(/^-+|-+$/g, "");
  return name || "pod";
}
