import { mkdir, mkdtemp, realpath, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import path from "node:path";
import { createToolbox } from "../../src/tools/index.js";
import type { BashConfig, Tool, ToolResult } from "../../src/tools/types.js";

export interface Sandbox {
  /** Parent of root: holds "outside" files a hostile path tries to reach. */
  base: string;
  root: string;
  outside: string;
}

/** A workspace root next to an "outside" directory with a secret in it. */
export async function sandbox(files: Record<string, string> = {}): Promise<Sandbox> {
  const base = await realpath(await mkdtemp(path.join(tmpdir(), "pod-tools-")));
  const root = path.join(base, "root");
  const outside = path.join(base, "outside");
  await mkdir(root);
  await mkdir(outside);
  await writeFile(path.join(outside, "secret.txt"), "TOP-SECRET\n");
  for (const [name, content] of Object.entries(files)) {
    await mkdir(path.dirname(path.join(root, name)), { recursive: true });
    await writeFile(path.join(root, name), content);
  }
  return { base, root, outside };
}

export type Tools = Record<string, (input: Record<string, unknown>) => Promise<ToolResult>>;

export async function tools(
  root: string,
  opts: { deny?: string[]; writable?: string[]; readOnly?: string[]; hidden?: string[]; bash?: Partial<BashConfig> } = {},
) {
  const box = await createToolbox(
    { root, deny: opts.deny ?? [], writable: opts.writable, readOnly: opts.readOnly ?? [], hidden: opts.hidden ?? [] },
    { enabled: !!opts.bash, allow: [], timeout_s: 10, sandbox: "required", network: false, env: [], ...opts.bash },
  );
  const signal = new AbortController().signal;
  const byName: Tools = {};
  for (const t of box.tools as Tool[]) {
    byName[t.name] = async (input) => {
      const parsed = t.inputSchema.safeParse(input);
      if (!parsed.success) throw new Error(`bad test input for ${t.name}: ${parsed.error.message}`);
      return t.run(parsed.data, { signal });
    };
  }
  return { ...byName, box } as Tools & { box: typeof box };
}
