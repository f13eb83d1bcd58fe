import { execFileSync } from "node:child_process";
import { link, mkdir, open, readdir, readFile, lstat, readlink, symlink, writeFile } from "node:fs/promises";
import net from "node:net";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { protectedPaths } from "../../src/policy/protected.js";
import type { ToolResult } from "../../src/tools/types.js";
import { sandbox, tools, type Sandbox } from "../tools/helpers.js";

/**
 * Property-style: a seeded generator throws hostile inputs at the file tools —
 * `..` chains, absolute paths, NUL, over-long names, Unicode normal forms and case
 * variants, symlink loops, links to outside / protected / hidden files, FIFOs,
 * sockets, directories, a huge file — and after every call asserts:
 *   - it returned within a bound (a hang fails the test);
 *   - nothing from outside the scope, from a denied file or from the runtime dir is
 *     in any output;
 * and at the end, that nothing outside the scope, nothing protected and nothing
 * hidden changed. Set POD_FUZZ_SEED to replay another sequence; failures name the seed.
 */
const SEED = Number(process.env.POD_FUZZ_SEED ?? 20261126);
const CALLS = Number(process.env.POD_FUZZ_CALLS ?? 400);
const CALL_BOUND_MS = 10_000;
const MARKS = ["OUTSIDE-MARK", "DENIED-MARK", "HIDDEN-MARK"];

/** mulberry32: small, seedable, good enough to pick test cases. */
function rng(seed: number) {
  let a = seed >>> 0;
  const next = () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
  return { next, pick: <T>(xs: readonly T[]): T => xs[Math.floor(next() * xs.length)]!, int: (n: number) => Math.floor(next() * n) };
}

let sb: Sandbox;
let server: net.Server;
let t: Awaited<ReturnType<typeof tools>>;

async function snapshot(dir: string): Promise<Record<string, string>> {
  const out: Record<string, string> = {};
  const walk = async (d: string) => {
    for (const e of await readdir(d, { withFileTypes: true })) {
      const p = path.join(d, e.name);
      const rel = path.relative(dir, p);
      if (e.isSymbolicLink()) out[rel] = `-> ${await readlink(p)}`;
      else if (e.isDirectory()) {
        out[rel + "/"] = "";
        await walk(p);
      } else if (e.isFile()) {
        const st = await lstat(p);
        out[rel] = st.size > 1024 * 1024 ? `${st.size} bytes, ino ${st.ino}` : await readFile(p, "utf8");
      } else out[rel] = "special";
    }
  };
  await walk(dir);
  return out;
}

/** What must not change, whatever the model does: everything outside the root, and the protected and denied parts inside. */
async function guarded(): Promise<Record<string, unknown>> {
  return {
    outside: await snapshot(sb.outside),
    git: await snapshot(path.join(sb.root, ".git")),
    pod: await snapshot(path.join(sb.root, ".pod")),
    manifest: await readFile(path.join(sb.root, "pod.toml"), "utf8"),
    env: await readFile(path.join(sb.root, ".env"), "utf8"),
    links: Object.fromEntries(
      await Promise.all(["link-out", "loop1", "loop2", "sym-pod", "sym-rt", "sym-git", "sym-env", "abs-out"].map(async (l) => [l, await readlink(path.join(sb.root, l))])),
    ),
  };
}

let before: Record<string, unknown>;

beforeAll(async () => {
  sb = await sandbox({
    "pod.toml": '[pod]\nname = "demo"\n[scope]\nroot = "."\n',
    "src/a.txt": "alpha\nbeta\n",
    "src/b.js": "const x = 1;\n",
    ".env": "DENIED-MARK\n",
    ".git/config": "[core]\n",
    ".git/hooks/pre-commit.sample": "#!/bin/sh\n",
    ".pod/demo/status.json": '{"status":"idle","note":"HIDDEN-MARK"}\n',
    ".pod/demo/sessions/s1.jsonl": '{"text":"HIDDEN-MARK"}\n',
  });
  await writeFile(path.join(sb.outside, "secret.txt"), "OUTSIDE-MARK\n");
  await mkdir(path.join(sb.root, ".pod/demo/lock"));
  const r = sb.root;
  await symlink(sb.outside, path.join(r, "link-out"));
  await symlink(path.join(sb.outside, "secret.txt"), path.join(r, "abs-out"));
  await symlink("loop2", path.join(r, "loop1"));
  await symlink("loop1", path.join(r, "loop2"));
  await symlink("pod.toml", path.join(r, "sym-pod"));
  await symlink(".pod/demo", path.join(r, "sym-rt"));
  await symlink(".git", path.join(r, "sym-git"));
  await symlink(".env", path.join(r, "sym-env"));
  await link(path.join(r, ".env"), path.join(r, "hard-env"));
  await link(path.join(r, ".pod/demo/sessions/s1.jsonl"), path.join(r, "hard-log"));
  execFileSync("mkfifo", [path.join(r, "fifo")]);
  server = net.createServer();
  await new Promise<void>((resolve) => server.listen(path.join(r, "sock"), resolve));
  const fh = await open(path.join(r, "huge.txt"), "w");
  const mb = Buffer.alloc(1024 * 1024, "z");
  for (let i = 0; i < 6; i++) await fh.write(mb); // one 6 MB line (the 100 MB case is in file-types.test.ts)
  await fh.close();
  const prot = await protectedPaths({ manifestFile: path.join(r, "pod.toml"), runtimeDir: path.join(r, ".pod"), scopeRoot: r });
  t = await tools(r, { ...prot, deny: [".env*"] });
  before = await guarded();
}, 60_000);

afterAll(() => server?.close());

const SEGMENTS = [
  "..", ".", "", "src", "a.txt", "b.js", ".git", "config", "hooks", "pre-commit", ".pod", "demo", "sessions", "s1.jsonl", "lock", "status.json",
  "pod.toml", ".env", "link-out", "abs-out", "loop1", "loop2", "sym-pod", "sym-rt", "sym-git", "sym-env", "hard-env", "hard-log", "fifo", "sock",
  "huge.txt", "outside", "secret.txt", "etc", "passwd", "new.txt",
  ".GIT", ".Pod", "POD.TOML", ".ENV", "Sessions",
  "cafe\u0301", "caf\u00e9", ".po\u0064", "\uff0e\uff0e", "..\u2215", "%2e%2e",
  "a\0b", "x".repeat(256), "y".repeat(80),
];

function hostilePath(g: ReturnType<typeof rng>): string {
  const n = 1 + g.int(6);
  const parts = Array.from({ length: n }, () => g.pick(SEGMENTS));
  const prefix = g.pick(["", "", "", "./", "/", `${sb.root}/`, `${sb.base}/`, `${sb.root}/src/../`, "../".repeat(1 + g.int(8))]);
  const sep = g.pick(["/", "/", "/", "//", "\\"]);
  let p = prefix + parts.join(sep);
  if (g.next() < 0.05) p = "a/".repeat(2100 + g.int(100)); // longer than PATH_MAX
  return p;
}

function hostileCall(g: ReturnType<typeof rng>): { tool: string; input: Record<string, unknown> } {
  const p = hostilePath(g);
  switch (g.pick(["Read", "Read", "Write", "Edit", "Glob", "Grep"])) {
    case "Read":
      return { tool: "Read", input: { path: p, ...(g.next() < 0.3 ? { offset: 1 + g.int(5) } : {}), ...(g.next() < 0.2 ? { limit: 1 + g.int(3) } : {}) } };
    case "Write":
      return { tool: "Write", input: { path: p, content: "PWNED\n" } };
    case "Edit":
      return { tool: "Edit", input: { path: p, old_string: g.pick(["alpha", "[core]", "name", "z", "MARK"]), new_string: "PWNED" } };
    case "Glob":
      return { tool: "Glob", input: { pattern: g.pick(["**/*", "**", "*", ".*/**", "**/.pod/**", "**/*.jsonl", "../**", "**/status.json"]), ...(g.next() < 0.5 ? { path: p } : {}) } };
    default:
      return { tool: "Grep", input: { pattern: g.pick(["MARK", "HIDDEN|DENIED|OUTSIDE", "status", "z+", "core"]), output_mode: g.pick(["content", "files_with_matches", "count"]), ...(g.next() < 0.5 ? { path: p } : {}) } };
  }
}

function withinBound(p: Promise<ToolResult>, what: string): Promise<ToolResult> {
  let timer: NodeJS.Timeout;
  const guard = new Promise<never>((_, reject) => (timer = setTimeout(() => reject(new Error(`${what} did not return within ${CALL_BOUND_MS} ms`)), CALL_BOUND_MS)));
  return Promise.race([p, guard]).finally(() => clearTimeout(timer));
}

describe(`hostile inputs (seed ${SEED}, ${CALLS} calls)`, () => {
  it("no escape, no leak, no hang; the scope is intact afterwards", async () => {
    const g = rng(SEED);
    const tally: Record<string, number> = { ok: 0, refused: 0 };
    for (let i = 0; i < CALLS; i++) {
      const { tool, input } = hostileCall(g);
      const what = `seed ${SEED} call #${i}: ${tool} ${JSON.stringify(input).slice(0, 160)}`;
      // Edit and Write need a prior Read: give the tracker one so they get as far as they can.
      if (tool === "Edit" || tool === "Write") await withinBound(t.Read!({ path: input.path }), what);
      const t0 = performance.now();
      const r = await withinBound(t[tool]!(input), what);
      if (process.env.POD_FUZZ_TIMES) console.log(Math.round(performance.now() - t0), what);
      tally[r.isError ? "refused" : "ok"]!++;
      for (const mark of MARKS) expect(r.output, what).not.toContain(mark);
      // A listing (refusals echo the path they refuse, so only successful ones) never shows the hidden or denied.
      // Glob may list a hardlink's name (names are not secret) and .git/ when asked for it
      // (it is readable); Grep must not search a hardlink to a denied file (its content is secret).
      if (!r.isError && tool === "Glob") expect(r.output, what).not.toMatch(/(^|\n)(\.pod|\.env)(\/|\n|$)/);
      if (!r.isError && tool === "Grep") expect(r.output, what).not.toMatch(/(^|\n)(\.pod|\.env|hard-log|hard-env)(\/|:|\n|$)/);
    }
    // The generator must reach both sides, or it is testing nothing.
    expect(tally.ok, JSON.stringify(tally)).toBeGreaterThan(CALLS / 20);
    expect(tally.refused, JSON.stringify(tally)).toBeGreaterThan(CALLS / 4);
    expect(await guarded()).toEqual(before);
    // Whatever was written landed inside the root, and only as regular files.
    const files = await snapshot(sb.root);
    for (const [rel, v] of Object.entries(files)) if (v === "PWNED\n") expect(path.resolve(sb.root, rel).startsWith(sb.root + "/"), rel).toBe(true);
  }, 240_000);
});
