import { readdirSync, readFileSync, statSync } from "node:fs";
import path from "node:path";
import { describe, expect, it } from "vitest";

// The rooms of src/ (README "Where things live", each folder's README or index.ts header)
// kept honest: the imports are parsed from the source, and an arrow a room forbids fails here.

const SRC = path.resolve(__dirname, "../../src");

function walk(dir: string): string[] {
  return readdirSync(dir).flatMap((name) => {
    const p = path.join(dir, name);
    return statSync(p).isDirectory() ? walk(p) : p.endsWith(".ts") ? [p] : [];
  });
}

const files = walk(SRC);
const rel = (abs: string) => path.relative(SRC, abs).split(path.sep).join("/");

interface Arrow {
  from: string;
  /** A path relative to src/ for a relative import (".ts" for ".js"), else the package name. */
  to: string;
  typeOnly: boolean;
}

/** Every static and dynamic import and re-export of a file. */
function importsOf(file: string): Arrow[] {
  const text = readFileSync(file, "utf8");
  const arrows: Arrow[] = [];
  const re = /(?:^|\n)\s*(import|export)\s+(type\s+)?[^"';]*?from\s+"([^"]+)"|(?:^|\n)\s*import\s+"([^"]+)"|import\(\s*"([^"]+)"\s*\)/g;
  for (const m of text.matchAll(re)) {
    const spec = m[3] ?? m[4] ?? m[5]!;
    const to = spec.startsWith(".") ? rel(path.resolve(path.dirname(file), spec)).replace(/\.js$/, ".ts") : spec;
    arrows.push({ from: rel(file), to, typeOnly: m[2] !== undefined });
  }
  return arrows;
}

const arrows = files.flatMap(importsOf);
const from = (prefix: string) => arrows.filter((a) => a.from.startsWith(prefix));
const show = (list: Arrow[]) => list.map((a) => `${a.from} → ${a.to}`);

describe("the rooms of src/ (README 'Where things live')", () => {
  it("parses the imports it checks (a parser that finds nothing would pass everything)", () => {
    expect(files.length).toBeGreaterThan(100);
    expect(arrows.some((a) => a.from === "store/session-store.ts" && a.to === "conversation/messages.ts")).toBe(true);
    expect(arrows.some((a) => a.from === "runtime/agent.ts" && a.to === "runtime/invocation.ts")).toBe(true);
    expect(arrows.some((a) => a.from === "provider/client.ts" && a.to === "@anthropic-ai/sdk")).toBe(true);
  });

  it("conversation/ is pure: it imports only itself, zod and the zod/mini set-up (no I/O, no node: built-ins)", () => {
    const bad = from("conversation/").filter((a) => !(a.to.startsWith("conversation/") || a.to === "zod-mini.ts" || a.to === "zod" || a.to === "zod/mini"));
    expect(show(bad)).toEqual([]);
    // And it reads no environment, clock or process state.
    for (const f of files.filter((f) => rel(f).startsWith("conversation/"))) {
      expect(readFileSync(f, "utf8"), rel(f)).not.toMatch(/\bprocess\.|Date\.now|new Date\(/);
    }
  });

  it("only the runtime and the commands hold the event sink (lower layers return values or relay deltas)", () => {
    const bad = arrows.filter((a) => a.to === "events/sink.ts" && !/^(runtime|commands|events)\//.test(a.from));
    expect(show(bad)).toEqual([]);
    // Lower layers may name event types (events/schema.ts), never build events with the sink.
    for (const f of files.filter((f) => !/^(runtime|commands|events)\//.test(rel(f)))) {
      expect(readFileSync(f, "utf8"), rel(f)).not.toMatch(/\bsink\.emit\(|\.sessionId\s*=[^=]/);
    }
  });

  it("the envelope's session id is set in one place (runtime/emit.ts aboutSession)", () => {
    const setters = files.filter((f) => /\b(sink|this)\.sessionId\s*=[^=]/.test(readFileSync(f, "utf8"))).map(rel);
    expect(setters.sort()).toEqual(["events/sink.ts", "runtime/emit.ts"]);
  });

  it("forbidden arrows: store → provider/runtime, tools → runtime/events, runs → runtime, sandbox → tools/runtime, policy → tools/sandbox/runtime", () => {
    const forbidden: [string, RegExp][] = [
      ["store/", /^(provider|runtime|commands)\//],
      ["tools/", /^(runtime|events|commands)\//],
      ["runs/", /^(runtime|commands)\//],
      ["sandbox/", /^(tools|runtime|commands)\//],
      ["policy/", /^(tools|sandbox|runtime|commands)\//],
      ["provider/", /^(runtime|store|commands)\//],
      ["hooks/", /^(runtime|commands)\//],
    ];
    const bad = forbidden.flatMap(([room, to]) => from(room).filter((a) => to.test(a.to)));
    expect(show(bad)).toEqual([]);
  });

  it("the environment is read in one place: process.env appears only in src/env-config.ts", () => {
    const readers = files.filter((f) => /\bprocess\.env\b/.test(readFileSync(f, "utf8"))).map(rel);
    expect(readers).toEqual(["env-config.ts"]);
  });

  it("tool names live in the registry: no layer outside the tools compares a call's name to a built-in tool's", () => {
    const names = /\bname\s*[!=]==\s*"(Read|Write|Edit|Glob|Grep)"|\[\s*"Read",\s*"Write"/;
    const bad = files.filter((f) => !rel(f).startsWith("tools/") && names.test(readFileSync(f, "utf8"))).map(rel);
    expect(bad).toEqual([]);
  });

  it("every folder opens with a header saying what it holds and what it may import", () => {
    const folders = [...new Set(files.map((f) => path.dirname(rel(f))))].filter((d) => d !== ".");
    const missing = folders.filter((d) => {
      const readme = path.join(SRC, d, "README.md");
      const index = path.join(SRC, d, "index.ts");
      const header = (() => {
        try {
          return readFileSync(readme, "utf8");
        } catch {
          try {
            return readFileSync(index, "utf8").slice(0, 3000);
          } catch {
            return "";
          }
        }
      })();
      return !/may import|imports nothing|imports this folder/i.test(header);
    });
    expect(missing).toEqual([]);
  });

  it("README's 'Where things live' names every folder of src/, and only folders and files that exist", () => {
    const readme = readFileSync(path.resolve(SRC, "../README.md"), "utf8");
    const start = readme.indexOf("| folder |", readme.indexOf("Where things live"));
    const table = readme.slice(start, readme.indexOf("\n\n", start));
    expect(table.split("\n").length).toBeGreaterThan(10);
    const namedFolders = new Set([...table.matchAll(/`src\/([a-z][a-z/-]*?)\/`/g)].map((m) => m[1]!));
    const namedFiles = [...table.matchAll(/`src\/([a-z][a-z/.-]*\.ts)`/g)].map((m) => m[1]!);
    const folders = [...new Set(files.map((f) => path.dirname(rel(f))))].filter((d) => d !== ".");
    expect(folders.filter((d) => !namedFolders.has(d)).sort()).toEqual([]);
    expect([...namedFolders].filter((d) => !folders.includes(d)).sort()).toEqual([]);
    expect(namedFiles.filter((f) => !files.some((abs) => rel(abs) === f))).toEqual([]);
  });
});
