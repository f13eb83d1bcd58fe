// Bundles bin/pod.ts into dist/ with esbuild. Code splitting keeps each command's
// dependencies (the SDK above all) in chunks loaded only when that command runs,
// so `pod --version` and `pod status` start fast.
import { build } from "esbuild";
import { readFileSync, rmSync, chmodSync } from "node:fs";

const pkg = JSON.parse(readFileSync(new URL("../package.json", import.meta.url), "utf8"));
rmSync(new URL("../dist", import.meta.url), { recursive: true, force: true });
await build({
  entryPoints: { pod: "bin/pod.ts" },
  outdir: "dist",
  bundle: true,
  splitting: true,
  format: "esm",
  platform: "node",
  target: "node20",
  sourcemap: "linked",
  chunkNames: "chunks/[name]-[hash]",
  define: { __POD_VERSION__: JSON.stringify(pkg.version) },
  // Bundled CommonJS dependencies (proper-lockfile) call require(); give ESM output one.
  banner: { js: "import { createRequire as __podCreateRequire } from 'node:module'; const require = __podCreateRequire(import.meta.url);" },
  logLevel: "warning",
});
chmodSync(new URL("../dist/pod.js", import.meta.url), 0o755);
