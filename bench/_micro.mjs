import { openSync, readSync, closeSync, fstatSync, readdirSync } from "node:fs";
import { readFile } from "node:fs/promises";
import path from "node:path";
const root = "/work/main/bench/tree";
// walk sync
let t = performance.now();
const files = [];
const stack = [root];
while (stack.length) {
  const d = stack.pop();
  for (const e of readdirSync(d, { withFileTypes: true })) {
    const p = d + "/" + e.name;
    if (e.isDirectory()) { if (e.name !== "ignored" && e.name !== ".git") stack.push(p); }
    else if (e.isFile()) files.push(p);
  }
}
console.log("sync walk", files.length, (performance.now() - t).toFixed(0), "ms");
const needle = Buffer.from("pod_needle_literal");
let buf = Buffer.allocUnsafe(1 << 20);
t = performance.now();
let hits = 0;
for (const f of files) {
  const fd = openSync(f, "r");
  let n = 0;
  for (;;) { const r = readSync(fd, buf, n, buf.length - n, null); if (r === 0) break; n += r; if (n === buf.length) { const nb = Buffer.allocUnsafe(buf.length * 2); buf.copy(nb); buf = nb; } }
  closeSync(fd);
  if (buf.subarray(0, Math.min(n, 8192)).includes(0)) continue;
  if (buf.indexOf(needle) !== -1 && buf.subarray(0, n).indexOf(needle) !== -1) hits++;
}
console.log("sync read+indexOf", hits, (performance.now() - t).toFixed(0), "ms");
t = performance.now();
const re = /fn_[0-9]{4}_xyz/u;
hits = 0;
for (const f of files) {
  const fd = openSync(f, "r");
  const n = readSync(fd, buf, 0, buf.length, null);
  closeSync(fd);
  if (re.test(buf.toString("utf8", 0, n))) hits++;
}
console.log("sync read+utf8+regex", hits, (performance.now() - t).toFixed(0), "ms");
t = performance.now(); hits = 0;
const fix = Buffer.from("_xyz");
for (const f of files) {
  const fd = openSync(f, "r");
  const n = readSync(fd, buf, 0, buf.length, null);
  closeSync(fd);
  const b = buf.subarray(0, n);
  if (b.indexOf(fix) === -1) continue;
  if (re.test(b.toString("utf8"))) hits++;
}
console.log("sync read+prefilter+regex", hits, (performance.now() - t).toFixed(0), "ms");
t = performance.now(); hits = 0;
const rei = /needlecase/iu;
for (const f of files) {
  const fd = openSync(f, "r");
  const n = readSync(fd, buf, 0, buf.length, null);
  closeSync(fd);
  if (rei.test(buf.latin1Slice(0, n))) hits++;
}
console.log("sync read+latin1+regex i", hits, (performance.now() - t).toFixed(0), "ms");
