// What Bash's sandbox costs per call: the same trivial command (`true`) through the
// Bash tool with the sandbox required (bwrap), with it off, and as a bare
// `bash -c true` spawn; plus bwrap alone, the network-allowlist path, a real tree as
// the scope, the parser's one-time load and per-command parse, and the sandbox's view
// of the scope (its one walk) on that tree.
import { execFileSync, spawn } from "node:child_process";
import { copyFile, mkdtemp, realpath, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import path from "node:path";
import { fmt, median, timeInterleaved } from "./lib.mjs";

const spawnTrue = (file, args) =>
  new Promise((resolve, reject) => {
    const c = spawn(file, args, { stdio: "ignore" });
    c.on("error", reject);
    c.on("exit", (code) => (code === 0 ? resolve() : reject(new Error(`${file} exited ${code}`))));
  });

export async function sandboxBench(root) {
  // The parser's one-time load, as the built pod pays it: allowlist.ts bundled the way
  // scripts/build.mjs bundles it, run in fresh processes.
  const parserLoad = await bundledParserLoad(root);
  const { parseCommand } = await import("../src/tools/bash/allowlist.ts");
  await parseCommand("npm test");
  const parses = [];
  let t;
  for (let i = 0; i < 200; i++) {
    t = performance.now();
    await parseCommand("npx vitest run test/a.test.ts -t 'one test' 2>&1");
    parses.push(performance.now() - t);
  }

  const { createToolbox } = await import("../src/tools/index.ts");
  const { Protection } = await import("../src/policy/protection.ts");
  const dir = await realpath(await mkdtemp(path.join(tmpdir(), "pod-bench-sbx-")));
  await writeFile(path.join(dir, "a.txt"), "a\n");
  const scope = { root: dir, deny: [".env*"], readOnly: [], hidden: [] };
  const bashWith = async (extra) => {
    const box = await createToolbox(scope, { enabled: true, allow: ["true"], timeout_s: 30, sandbox: "required", network: false, env: [], ...extra });
    const tool = box.tools.find((x) => x.name === "Bash");
    const signal = new AbortController().signal;
    return async () => {
      const r = await tool.run({ command: "true" }, { signal });
      if (r.isError) throw new Error(r.output);
    };
  };
  const sandboxed = await bashWith({});
  const off = await bashWith({ sandbox: "off" });
  const proxied = await bashWith({ network: ["registry.npmjs.org"] });
  // The same call with a real tree as the scope: pod's own node_modules (21k files) and
  // deny = [".env*"], so what the policy computes (the deny walk, every .git) is paid
  // on real data, not on a one-file directory.
  const realTree = await realpath(path.join(root, "node_modules"));
  const files = Number(execFileSync("find", [realTree, "-type", "f"], { encoding: "utf8", maxBuffer: 1 << 28 }).split("\n").length - 1);
  const realBox = await createToolbox(
    // Nothing protected that is missing there: a placeholder would be made (and removed) inside that tree at each call.
    { root: realTree, deny: [".env*"], readOnly: [], hidden: [path.join(dir, ".pod")] },
    { enabled: true, allow: ["true"], timeout_s: 30, sandbox: "required", network: false, env: [] },
  );
  const realTool = realBox.tools.find((x) => x.name === "Bash");
  const onRealTree = async () => {
    const r = await realTool.run({ command: "true" }, { signal: new AbortController().signal });
    if (r.isError) throw new Error(r.output);
  };
  const bwrapTrue = ["--unshare-all", "--die-with-parent", "--new-session", "--cap-drop", "ALL", "--ro-bind", "/", "/", "--dev", "/dev", "--proc", "/proc", "--tmpfs", "/tmp", "--", "true"];
  const [bare, bwrapAlone, toolOff, toolSandboxed, toolProxied, toolReal] = await timeInterleaved(
    [() => spawnTrue("bash", ["-c", "true"]), () => spawnTrue("bwrap", bwrapTrue), off, sandboxed, proxied, onRealTree],
    { runs: 21 },
  );

  // The sandbox's view of the scope (the one walk: deny, every .git, sockets, other names), computed
  // once per run and checked at each call: timed cold (a fresh policy each time) on the real tree.
  const walks = [];
  let entries = 0;
  for (let i = 0; i < 5; i++) {
    const protection = new Protection({ root: realTree, deny: [".env*"], readOnly: [], hidden: [path.join(dir, ".pod")], pinned: [] });
    t = performance.now();
    const view = await protection.sandboxView();
    walks.push(performance.now() - t);
    entries = view.readOnly.length + view.masked.length + view.absent.length + view.pinned.length + view.sanitized.length;
  }
  const r = (x) => `${(x / bare).toFixed(1)}×`;
  return {
    perCall: toolSandboxed - toolOff,
    rows: [
      ["`bash -c true` spawned (baseline)", fmt(bare), "1.0×"],
      ["`bwrap … true` spawned", fmt(bwrapAlone), r(bwrapAlone)],
      ["Bash tool, `sandbox = \"off\"`", fmt(toolOff), r(toolOff)],
      ["Bash tool, sandboxed (bwrap, no network)", fmt(toolSandboxed), r(toolSandboxed)],
      ["Bash tool, sandboxed, `network = [hosts]` (proxy + forwarder)", fmt(toolProxied), r(toolProxied)],
      [`Bash tool, sandboxed, scope = a real tree (pod's node_modules, ${files} files)`, fmt(toolReal), r(toolReal)],
    ],
    perCallReal: toolReal - toolOff,
    parserLoad,
    parse: median(parses),
    viewWalk: median(walks),
    viewEntries: entries,
    realFiles: files,
  };
}

async function bundledParserLoad(root) {
  const { build } = await import("esbuild");
  const dir = await mkdtemp(path.join(tmpdir(), "pod-bench-parser-"));
  const entry = path.join(dir, "entry.ts");
  await writeFile(
    entry,
    `import { bashParser, parseCommand } from ${JSON.stringify(path.join(root, "src/tools/bash/allowlist.ts"))};
(async () => { const t = performance.now(); await bashParser(); await parseCommand("npm test"); process.stdout.write(String(performance.now() - t)); })();`,
  );
  await build({
    entryPoints: [entry],
    bundle: true,
    format: "cjs",
    platform: "node",
    target: "node20",
    outfile: path.join(dir, "commands/entry.cjs"),
    supported: { "dynamic-import": false },
    define: { __POD_BUNDLE__: "true", "import.meta.url": "undefined" },
    logLevel: "warning",
    plugins: [{ name: "wts", setup: (b) => b.onResolve({ filter: /^web-tree-sitter$/ }, () => ({ path: path.join(root, "node_modules/web-tree-sitter/web-tree-sitter.cjs") })) }],
  });
  await copyFile(path.join(root, "node_modules/web-tree-sitter/web-tree-sitter.wasm"), path.join(dir, "web-tree-sitter.wasm"));
  await copyFile(path.join(root, "node_modules/tree-sitter-bash/tree-sitter-bash.wasm"), path.join(dir, "tree-sitter-bash.wasm"));
  const times = [];
  for (let i = 0; i < 7; i++) times.push(Number(execFileSync(process.execPath, [path.join(dir, "commands/entry.cjs")], { encoding: "utf8" })));
  return median(times);
}
