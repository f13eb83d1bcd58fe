// Real code for the Grep bench, made reproducibly from the npm registry and cached
// in bench/.corpora/ (gitignored): delete a directory to rebuild it.
//
// - deps: an ordinary node_modules, the tree a JS developer greps every day: the
//   pinned packages below and what they depend on (many small files, some huge).
// - projects: the published sources of two big projects, unpacked as they are in
//   their tarballs (three.js's src/ and examples/, Monaco's ESM and min builds): fewer,
//   larger files, and no node_modules shape.
// - app: an installed node_modules as a TypeScript project has it: pod's own
//   development dependencies, at the versions it was built with when this corpus was
//   added (246 MB, ~21,000 files: the tree issue 28 was measured on).
// - linux: C, the classic ripgrep corpus: a part of the Linux kernel's sources
//   (kernel/, fs/, mm/, net/, include/, lib/, drivers/net/) from Debian's
//   linux-source package (`apt-get download`, no root needed once apt's lists
//   exist); the version is the package's, recorded in bench/.corpora/linux/.version.
import { execFileSync } from "node:child_process";
import { existsSync, mkdirSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from "node:fs";
import path from "node:path";

const DEPS = ["webpack@5.97.1", "eslint@9.17.0", "@babel/core@7.26.0", "jest@29.7.0", "typescript@5.7.2", "rxjs@7.8.1", "lodash@4.17.21", "prettier@3.4.2"];
const APP = ["@anthropic-ai/sdk@1.13.0", "@modelcontextprotocol/sdk@1.32.2", "@smithy/eventstream-codec@4.5.2", "@smithy/util-utf8@4.5.2", "@types/node@20.19.43", "@types/picomatch@4.0.3", "@types/proper-lockfile@4.1.4", "ajv@8.20.0", "ajv-formats@3.0.1", "chalk@5.6.2", "commander@14.0.3", "esbuild@0.28.2", "fast-glob@3.3.3", "ignore@7.0.16", "picomatch@4.0.7", "proper-lockfile@4.1.2", "smol-toml@1.9.1", "tree-sitter-bash@0.25.1", "tsx@4.23.15", "typescript@5.9.3", "undici@7.30.2", "vitest@4.1.12", "wabt@1.0.39", "web-tree-sitter@0.27.2", "yaml@2.9.1", "zod@4.6.7", "@anthropic-ai/bedrock-sdk@1.1.3", "@anthropic-ai/vertex-sdk@1.1.3"];
const PROJECTS = ["three@0.170.0", "monaco-editor@0.52.0"];
const LINUX_PACKAGE = "linux-source-6.1";
const LINUX_DIRS = ["kernel", "fs", "mm", "net", "include", "lib", "drivers/net"];

const log = (s) => process.stderr.write(`bench: ${s}\n`);

/** Builds (first run only) and returns the corpora: [{ name, dir, about }]. */
export function ensureCorpora(root) {
  const base = path.join(root, "bench/.corpora");
  mkdirSync(base, { recursive: true });
  const deps = path.join(base, "deps");
  if (!existsSync(path.join(deps, ".done"))) {
    log(`installing the deps corpus (${DEPS.join(" ")})`);
    rmSync(deps, { recursive: true, force: true });
    mkdirSync(deps, { recursive: true });
    execFileSync("npm", ["install", "--prefix", deps, "--ignore-scripts", "--no-audit", "--no-fund", "--no-save", "--loglevel=error", ...DEPS], { stdio: "inherit" });
    execFileSync("touch", [path.join(deps, ".done")]);
  }
  const app = path.join(base, "app");
  if (!existsSync(path.join(app, ".done"))) {
    log(`installing the app corpus (${APP.length} packages)`);
    rmSync(app, { recursive: true, force: true });
    mkdirSync(app, { recursive: true });
    execFileSync("npm", ["install", "--prefix", app, "--ignore-scripts", "--no-audit", "--no-fund", "--no-save", "--loglevel=error", ...APP], { stdio: "inherit" });
    execFileSync("touch", [path.join(app, ".done")]);
  }
  const projects = path.join(base, "projects");
  if (!existsSync(path.join(projects, ".done"))) {
    log(`unpacking the projects corpus (${PROJECTS.join(" ")})`);
    rmSync(projects, { recursive: true, force: true });
    mkdirSync(projects, { recursive: true });
    const packed = execFileSync("npm", ["pack", "--silent", ...PROJECTS], { cwd: projects, encoding: "utf8" }).trim().split("\n");
    for (const [i, tgz] of packed.entries()) {
      const dir = path.join(projects, PROJECTS[i].replace(/@[^@]*$/, ""));
      mkdirSync(dir);
      execFileSync("tar", ["-xzf", tgz, "-C", dir, "--strip-components=1"], { cwd: projects });
      rmSync(path.join(projects, tgz));
    }
    execFileSync("touch", [path.join(projects, ".done")]);
  }
  const linux = path.join(base, "linux");
  if (!existsSync(path.join(linux, ".done"))) {
    log(`unpacking the linux corpus (${LINUX_PACKAGE}: ${LINUX_DIRS.join(" ")})`);
    rmSync(linux, { recursive: true, force: true });
    mkdirSync(linux, { recursive: true });
    try {
      execFileSync("apt-get", ["download", LINUX_PACKAGE], { cwd: linux, stdio: ["ignore", "ignore", "inherit"] });
    } catch (err) {
      throw new Error(`the linux corpus needs Debian's ${LINUX_PACKAGE} (apt-get download ${LINUX_PACKAGE}; run apt-get update first if apt has no lists): ${err.message}`);
    }
    const deb = readdirSync(linux).find((f) => f.endsWith(".deb"));
    const version = /_([^_]+)_all\.deb$/.exec(deb)[1];
    execFileSync("sh", ["-c", `dpkg-deb --fsys-tarfile "$1" | tar -xO ./usr/src/${LINUX_PACKAGE}.tar.xz | tar -xJ ${LINUX_DIRS.map((d) => `${LINUX_PACKAGE}/${d}`).join(" ")}`, "sh", deb], { cwd: linux, stdio: "inherit" });
    rmSync(path.join(linux, deb));
    writeFileSync(path.join(linux, ".version"), `${version}\n`);
    execFileSync("touch", [path.join(linux, ".done")]);
  }
  const linuxVersion = readFileSync(path.join(linux, ".version"), "utf8").trim();
  return [
    { name: "deps", dir: path.join(deps, "node_modules"), about: `node_modules of ${DEPS.join(", ")}`, ...size(path.join(deps, "node_modules")) },
    { name: "projects", dir: projects, about: `the published sources of ${PROJECTS.join(", ")}`, ...size(projects) },
    { name: "app", dir: path.join(app, "node_modules"), about: `an installed node_modules: pod's own development dependencies (${APP.length} packages, ${APP.slice(0, 4).map((p) => p.replace(/@[^@]*$/, "")).join(", ")}, …)`, ...size(path.join(app, "node_modules")) },
    { name: "linux", dir: path.join(linux, LINUX_PACKAGE), about: `${LINUX_DIRS.map((d) => `${d}/`).join(", ")} of the Linux kernel (Debian's ${LINUX_PACKAGE} ${linuxVersion})`, ...size(path.join(linux, LINUX_PACKAGE)) },
  ];
}

function size(dir) {
  let files = 0;
  let bytes = 0;
  const walk = (d) => {
    for (const e of readdirSync(d, { withFileTypes: true })) {
      const p = path.join(d, e.name);
      if (e.isDirectory()) walk(p);
      else if (e.isFile()) {
        files++;
        bytes += statSync(p).size;
      }
    }
  };
  walk(dir);
  return { files, mb: bytes / 1e6 };
}

