// A generated source tree for the search benchmarks: ~50k files, ~500 MB, with a
// .gitignore'd directory, dotfiles and a few binary files. Deterministic (seeded),
// and kept in bench/tree/ between runs (it is .gitignored).
import { existsSync, mkdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import path from "node:path";

const VERSION = "3";
export const NEEDLES = { literal: "pod_needle_literal", regex: "fn_[0-9]{4}_xyz", ci: "NeedleCase" };

function rng(seed) {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = Math.imul(a ^ (a >>> 15), a | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

const WORDS = "const let function return if else for while import export from class extends new this await async try catch throw value result items index count total error data config options path file line text name".split(" ");

export function ensureTree(dir, { files = 50_000, avgBytes = 10_000 } = {}) {
  const marker = path.join(dir, ".bench-tree");
  if (existsSync(marker) && readFileSync(marker, "utf8") === `${VERSION} ${files} ${avgBytes}`) return;
  rmSync(dir, { recursive: true, force: true });
  const next = rng(42);
  const exts = ["ts", "js", "py", "md", "json", "go"];
  let bytes = 0;
  for (let i = 0; i < files; i++) {
    // 10% of files go under ignored/ (gitignored), a few are dotfiles or binary.
    const ignored = i % 10 === 9;
    const sub = ignored ? `ignored/d${i % 50}` : `src/m${i % 200}/p${i % 7}`;
    const ext = exts[i % exts.length];
    const name = i % 97 === 0 ? `.hidden${i}.${ext}` : `f${i}.${ext}`;
    const full = path.join(dir, sub, name);
    mkdirSync(path.dirname(full), { recursive: true });
    const target = Math.floor(avgBytes * (0.5 + next()));
    const lines = [];
    let size = 0;
    while (size < target) {
      const n = 4 + Math.floor(next() * 10);
      let line = "  ";
      for (let w = 0; w < n; w++) line += WORDS[Math.floor(next() * WORDS.length)] + " ";
      const roll = next();
      if (roll < 0.0004) line += NEEDLES.literal;
      else if (roll < 0.0008) line += `fn_${1000 + Math.floor(next() * 9000)}_xyz()`;
      else if (roll < 0.0012) line += next() < 0.5 ? "needlecase" : "NEEDLECASE";
      lines.push(line);
      size += line.length + 1;
    }
    let content = lines.join("\n") + "\n";
    if (i % 500 === 250) content = "\0binary header\0" + content;
    writeFileSync(full, content);
    bytes += content.length;
  }
  writeFileSync(path.join(dir, ".gitignore"), "ignored/\n*.log\n");
  writeFileSync(path.join(dir, "debug.log"), `${NEEDLES.literal}\n`);
  writeFileSync(marker, `${VERSION} ${files} ${avgBytes}`);
  return bytes;
}
