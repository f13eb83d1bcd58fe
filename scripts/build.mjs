// Builds dist/ with esbuild: dist/pod.js (a small entry with the fast paths),
// dist/cli.js (commander) and one self-contained bundle per command in
// dist/commands/. A command loads only what it uses: `pod status` never parses
// the SDK or commander, `pod --version` nothing at all. Node 20's ESM loader pays per module
// and per byte parsed, which is most of a CLI's start-up (bench/results.md).
import { build } from "esbuild";
import { chmodSync, readdirSync, readFileSync, rmSync } from "node:fs";

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

const pkg = JSON.parse(readFileSync(`${root}package.json`, "utf8"));
rmSync(`${root}dist`, { recursive: true, force: true });
const common = {
  bundle: true,
  format: "cjs",
  outExtension: { ".js": ".cjs" },
  // Load sibling bundles with require(): import() of a CommonJS file goes through the
  // ES module loader, which re-parses it to find its exports.
  supported: { "dynamic-import": false },
  platform: "node",
  target: "node20",
  sourcemap: "linked",
  // Less to parse at every start; dist/*.map maps stack traces back (node --enable-source-maps).
  minify: true,
  // __POD_BUNDLE__ tells code that runs both from source and bundled which it is; the
  // source-only branches (the only users of import.meta) are then dead code.
  define: { __POD_VERSION__: JSON.stringify(pkg.version), __POD_BUNDLE__: "true", "import.meta.url": "undefined" },
  logLevel: "warning",
  plugins: [zodEnglishOnly, cjsSiblings],
};
const commands = readdirSync(`${root}src/commands`).filter((f) => f.endsWith(".ts") && f !== "context.ts");
await Promise.all([
  // pod.js is only the entry; cli.js (commander) and each command are separate bundles,
  // imported as "./cli.js" and "./commands/<name>.js" from src/, which is where dist/ puts them.
  // grep-worker.js is the Grep tool's search thread, started by path (src/tools/grep-pool.ts).
  build({ ...common, entryPoints: { pod: `${root}bin/pod.ts`, cli: `${root}src/cli.ts`, "grep-worker": `${root}src/tools/grep-worker.ts` }, outdir: `${root}dist` }),
  build({
    ...common,
    entryPoints: Object.fromEntries(commands.map((f) => [f.replace(/\.ts$/, ""), `${root}src/commands/${f}`])),
    outdir: `${root}dist/commands`,
    // ajv (a dependency) is required from node_modules only when --output-schema is given:
    // bundled, its ~155 KB would be parsed by every `pod run` and `pod resume`.
    external: ["ajv", "ajv/*"],
  }),
]);
chmodSync(`${root}dist/pod.cjs`, 0o755);
