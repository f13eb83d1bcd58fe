// Before/after for Bash's sandbox: the Bash tool of another checkout of pod (e.g. the
// commit before a change) and of this one, interleaved in one process so a slow
// spell of the machine hits both alike. Each with the sandbox off and on, on a
// one-file scope and on a real tree (pod's own node_modules).
//
//   git worktree add --detach /tmp/pod-before <commit> && ln -s "$PWD/node_modules" /tmp/pod-before/
//   node --import tsx bench/sandbox-compare.mjs /tmp/pod-before [rounds]
import { mkdtemp, realpath, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import path from "node:path";
import { median } from "./lib.mjs";

const [otherRoot, roundsArg] = process.argv.slice(2);
if (!otherRoot) throw new Error("usage: node --import tsx bench/sandbox-compare.mjs <other checkout> [rounds]");
const root = path.resolve(import.meta.dirname, "..");
const before = (await import(path.join(path.resolve(otherRoot), "src/tools/index.ts"))).createToolbox;
const after = (await import(path.join(root, "src/tools/index.ts"))).createToolbox;
const dir = await realpath(await mkdtemp(path.join(tmpdir(), "pod-cmp-")));
await writeFile(path.join(dir, "a.txt"), "a\n");
const real = await realpath(path.join(root, "node_modules"));
const bash = { enabled: true, allow: ["true"], timeout_s: 30, sandbox: "required", network: false, env: [] };
// Nothing protected that is missing in the real tree: no placeholder is made there.
const call = async (create, scopeRoot, extra = {}) => {
  const box = await create({ root: scopeRoot, deny: [".env*"], readOnly: [], hidden: [path.join(dir, ".pod")] }, { ...bash, ...extra });
  const tool = box.tools.find((t) => t.name === "Bash");
  return async () => {
    const r = await tool.run({ command: "true" }, { signal: new AbortController().signal });
    if (r.isError) throw new Error(r.output);
  };
};
const fns = {
  beforeOff: await call(before, dir, { sandbox: "off" }),
  afterOff: await call(after, dir, { sandbox: "off" }),
  before: await call(before, dir),
  after: await call(after, dir),
  beforeReal: await call(before, real),
  afterReal: await call(after, real),
};
const times = Object.fromEntries(Object.keys(fns).map((k) => [k, []]));
const rounds = Number(roundsArg ?? 31);
for (let i = 0; i <= rounds; i++) {
  for (const [k, f] of Object.entries(fns)) {
    const t = performance.now();
    await f();
    if (i > 0) times[k].push(performance.now() - t);
  }
}
const m = Object.fromEntries(Object.entries(times).map(([k, v]) => [k, median(v)]));
const f = (x) => x.toFixed(1);
console.log(`medians of ${rounds} interleaved rounds (ms): ${Object.entries(m).map(([k, v]) => `${k} ${f(v)}`).join(", ")}`);
console.log(`the sandbox adds ${f(m.before - m.beforeOff)} ms before, ${f(m.after - m.afterOff)} ms after: ${f(m.after - m.before)} ms more per call (one-file scope); on the real tree ${f(m.afterReal - m.beforeReal)} ms`);
process.exit(0);
