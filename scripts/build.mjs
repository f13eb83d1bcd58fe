// Builds dist/ with esbuild: dist/pod.js (a small entry with the fast paths),
// dist/cli.js (commander) and one self-contained bundle per command in
// dist/commands/. A command loads only what it uses: `pod status` never parses
// the SDK or commander, `pod --version` nothing at all. Node 20's ESM loader pays per module
// and per byte parsed, which is most of a CLI's start-up (bench/results.md).
import { build } from "esbuild";
import { writeNotices } from "./notices.mjs";
import { chmodSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";

const root = new URL("..", import.meta.url).pathname;

// zod re-exports every locale from one index; pod only uses the default (en), so the
// index is swapped for one that exports en alone.
const zodEnglishOnly = {
  name: "zod-english-only",
  setup(b) {
    b.onResolve({ filter: /locales\/index\.js$/ }, (args) =>
      args.importer.includes(`${"node_modules"}/zod/`) ? { path: "zod-locales-en", namespace: "pod" } : undefined,
    );
    b.onLoad({ filter: /^zod-locales-en$/, namespace: "pod" }, () => ({
      contents: `export { default as en } from ${JSON.stringify(`${root}node_modules/zod/v4/locales/en.js`)};`,
      resolveDir: root,
    }));
  },
};

// The bundles are CommonJS (.cjs): Node 20 starts a CommonJS file ~3 ms sooner than an
// ES module, a tenth of pod's whole start-up. The lazily loaded bundles are imported
// as "./cli.js" / "./commands/<name>.js" in the source; here they become .cjs.
const cjsSiblings = {
  name: "cjs-siblings",
  setup(b) {
    b.onResolve({ filter: /^\.\/(cli|commands\/[a-z-]+)\.js$/ }, (args) => ({ path: args.path.replace(/\.js$/, ".cjs"), external: true }));
  },
};

// Optional parts are loaded only by a pod that uses them: the MCP client is a bundle of
// its own in dist/commands/ext/, the Bedrock and Vertex SDKs are optionalDependencies
// (bundled, they made the package twice its size); every `pod run` would otherwise parse ~1.2 MB more. Only command bundles (dist/commands/*.cjs) import them.
const optionalParts = {
  name: "optional-parts",
  setup(b) {
    // The cloud SDKs are the package's optionalDependencies, required from node_modules.
    b.onResolve({ filter: /^@anthropic-ai\/(bedrock|vertex)-sdk$/ }, (args) => ({ path: args.path, external: true }));
    b.onResolve({ filter: /^\.\/ajv-entry\.js$/ }, () => ({ path: "./ext/ajv.cjs", external: true }));
    b.onResolve({ filter: /^\.\/sdk\.js$/ }, (args) =>
      args.importer.endsWith("src/tools/mcp/servers.ts") ? { path: "./ext/mcp-sdk.cjs", external: true } : undefined,
    );
  },
};

// run, resume and compact share one bundle of the agent (src/runtime/agent.ts):
// each would otherwise carry its own copy of the SDK and the run loop.
const sharedAgent = {
  name: "shared-agent",
  setup(b) {
    b.onResolve({ filter: /^(\.\.\/)+runtime\/agent\.js$/ }, (args) =>
      args.importer.includes("/src/commands/") ? { path: "./agent.cjs", external: true } : undefined,
    );
  },
};

// web-tree-sitter's ES module build finds itself through import.meta.url, which a CommonJS
// bundle does not have; its CommonJS build uses __dirname-free require() and works bundled.
const treeSitterCjs = {
  name: "web-tree-sitter-cjs",
  setup(b) {
    b.onResolve({ filter: /^web-tree-sitter$/ }, () => ({ path: `${root}node_modules/web-tree-sitter/web-tree-sitter.cjs` }));
  },
};

// node:crypto and node:fs/promises are not in Node's start-up snapshot: requiring them
// loads ~40 internal modules (streams, readline, every cipher), 4 and 1.6 ms of a
// `pod status` that hashes nothing and reads no file through a promise. A bundle
// evaluates every import at its top, so pod's own imports of these get an object whose
// properties require the module on first use. The names are this Node's (the build's);
// a name it lacks would have been undefined as a plain import too.
const LAZY_BUILTINS = ["node:crypto", "node:fs/promises"];
const lazyBuiltins = {
  name: "lazy-builtins",
  setup(b) {
    b.onResolve({ filter: /^node:/ }, (args) =>
      args.importer.startsWith(`${root}src/`) && LAZY_BUILTINS.includes(args.path) ? { path: args.path, namespace: "lazy-builtin" } : undefined,
    );
    b.onLoad({ filter: /.*/, namespace: "lazy-builtin" }, async (args) => {
      const names = Object.keys(await import(args.path)).filter((k) => k !== "default");
      const id = JSON.stringify(args.path);
      return {
        loader: "js",
        contents: `let m;\nconst load = () => (m ??= require(${id}));\nfor (const k of ${JSON.stringify(names)}) Object.defineProperty(module.exports, k, { enumerable: true, get: () => load()[k] });\n`,
      };
    });
  },
};

const pkg = JSON.parse(readFileSync(`${root}package.json`, "utf8"));
rmSync(`${root}dist`, { recursive: true, force: true });
rmSync(`${root}action/dist`, { recursive: true, force: true });
const common = {
  bundle: true,
  format: "cjs",
  outExtension: { ".js": ".cjs" },
  // Load sibling bundles with require(): import() of a CommonJS file goes through the
  // ES module loader, which re-parses it to find its exports.
  supported: { "dynamic-import": false },
  platform: "node",
  target: "node20",
  // No source maps in the package (nothing points at a file that is not shipped);
  // POD_SOURCEMAPS=1 builds linked ones for debugging (node --enable-source-maps).
  sourcemap: process.env.POD_SOURCEMAPS === "1" ? "linked" : false,
  // Less to parse at every start. POD_MINIFY=0 keeps names and module comments, for
  // reading a CPU profile (node --cpu-prof dist/pod.cjs status).
  minify: process.env.POD_MINIFY !== "0",
  // Which node_modules files each bundle holds: THIRD_PARTY_NOTICES is made from it.
  metafile: true,
  // __POD_BUNDLE__ tells code that runs both from source and bundled which it is; the
  // source-only branches (the only users of import.meta) are then dead code.
  define: { __POD_VERSION__: JSON.stringify(pkg.version), __POD_BUNDLE__: "true", "import.meta.url": "undefined" },
  logLevel: "warning",
  plugins: [zodEnglishOnly, cjsSiblings, treeSitterCjs, lazyBuiltins],
};
const commands = readdirSync(`${root}src/commands`).filter((f) => f.endsWith(".ts") && f !== "context.ts");
const results = await Promise.all([
  // pod.js is only the entry; cli.js (commander) and each command are separate bundles,
  // imported as "./cli.js" and "./commands/<name>.js" from src/, which is where dist/ puts them.
  // grep-worker.js is the Grep tool's search thread, started by path (src/tools/grep/pool.ts).
  build({ ...common, external: ["./undici-entry.js"], entryPoints: { pod: `${root}bin/pod.ts`, cli: `${root}src/cli.ts`, "grep-worker": `${root}src/tools/grep/worker.ts` }, outdir: `${root}dist` }),
  // undici.js: the proxy client (src/provider/upstream-proxy.ts), loaded only when a proxy is set.
  build({ ...common, entryPoints: { undici: `${root}src/provider/undici-entry.ts` }, outdir: `${root}dist` }),
  build({
    ...common,
    // Never inlined into a command: the source-only import of it is dead code when bundled.
    external: ["./undici-entry.js"],
    entryPoints: {
      ...Object.fromEntries(commands.map((f) => [f.replace(/\.ts$/, ""), `${root}src/commands/${f}`])),
      agent: `${root}src/runtime/agent.ts`,
    },
    outdir: `${root}dist/commands`,
    plugins: [...common.plugins, optionalParts, sharedAgent],
  }),
  build({
    ...common,
    entryPoints: {
      "mcp-sdk": `${root}src/tools/mcp/sdk.ts`,
      ajv: `${root}src/runtime/ajv-entry.ts`,
    },
    outdir: `${root}dist/commands/ext`,
  }),
]);
chmodSync(`${root}dist/pod.cjs`, 0o755);
// The GitHub Action's helpers (action/lib.ts: pod's renderer, answer and sandbox probe for
// the Action's scripts). Outside dist/, so not in the npm package; the Action's install step
// copies it next to the pod it installs.
await build({ ...common, metafile: false, entryPoints: { lib: `${root}action/lib.ts` }, outdir: `${root}action/dist`, plugins: [...common.plugins, optionalParts] });
// Bash's allowlist parses commands with tree-sitter-bash (src/tools/bash/allowlist.ts):
// the runtime's and the grammar's WebAssembly sit next to the bundles.
// web-tree-sitter's names a source map (a sourceMappingURL custom section) that is not
// shipped; that section is dropped on the way, as the bundles carry no map reference either.
for (const [from, to] of [
  ["web-tree-sitter/web-tree-sitter.wasm", "web-tree-sitter.wasm"],
  ["tree-sitter-bash/tree-sitter-bash.wasm", "tree-sitter-bash.wasm"],
]) {
  writeFileSync(`${root}dist/${to}`, withoutSourceMapSection(readFileSync(`${root}node_modules/${from}`)));
}

/** A WebAssembly binary without its `sourceMappingURL` custom section (section id 0). */
function withoutSourceMapSection(wasm) {
  const leb = (at) => {
    let value = 0;
    let shift = 0;
    for (;;) {
      const byte = wasm[at++];
      value |= (byte & 0x7f) << shift;
      shift += 7;
      if (!(byte & 0x80)) return [value >>> 0, at];
    }
  };
  const keep = [wasm.subarray(0, 8)];
  for (let at = 8; at < wasm.length; ) {
    const start = at;
    const id = wasm[at];
    const [size, body] = leb(at + 1);
    const end = body + size;
    let drop = false;
    if (id === 0) {
      const [nameLen, nameAt] = leb(body);
      drop = wasm.subarray(nameAt, nameAt + nameLen).toString() === "sourceMappingURL";
    }
    if (!drop) keep.push(wasm.subarray(start, end));
    at = end;
  }
  return Buffer.concat(keep);
}
// The licences of everything bundled (esbuild's metafiles say exactly which files) and
// of the two WebAssembly files copied above, in dist/THIRD_PARTY_NOTICES.md.
writeNotices(
  root,
  results.flatMap((r) => Object.keys(r.metafile.inputs)),
  ["node_modules/web-tree-sitter/web-tree-sitter.wasm", "node_modules/tree-sitter-bash/tree-sitter-bash.wasm"],
  `${root}dist/THIRD_PARTY_NOTICES.md`,
);
