// Session store: open (load + repair check) and append one message to sessions of
// 100, 1k and 10k realistic messages (assistant text + tool calls, 2 KB tool results).
import { mkdtempSync, statSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { SessionStore } from "../src/store/session-store.ts";
import { fmt, timeIt } from "./lib.mjs";

function message(i) {
  if (i % 2 === 0) {
    return { role: "assistant", content: [{ type: "text", text: `Step ${i}: ${"looking at the code and deciding what to do next. ".repeat(4)}` }, { type: "tool_use", id: `toolu_${i}`, name: "Read", input: { path: `src/module${i % 50}.ts` } }] };
  }
  return { role: "user", content: [{ type: "tool_result", tool_use_id: `toolu_${i - 1}`, content: `     1\texport function f${i}() {\n${"     2\t  return computeSomething(value, options);\n".repeat(40)}` }] };
}

export async function makeSession(dir, n) {
  const store = await SessionStore.create(dir);
  await store.append({ role: "user", content: [{ type: "text", text: "fix the failing tests" }] }, 0);
  for (let i = 1; i < n; i++) await store.append(message(i), Math.ceil(i / 2));
  await store.close();
  return store.id;
}

export async function storeBench() {
  const rows = [];
  let at10k;
  for (const n of [100, 1000, 10_000]) {
    const dir = path.join(mkdtempSync(path.join(tmpdir(), "pod-bench-store-")), "sessions");
    const id = await makeSession(dir, n);
    const file = path.join(dir, `${id}.jsonl`);
    const before = statSync(file).size;
    let i = 0;
    const ms = await timeIt(async () => {
      const s = await SessionStore.openForAppend(dir, id);
      await s.append(message(n + i++), n);
      await s.close();
    }, { runs: 5 });
    const appended = (statSync(file).size - before) / (i);
    rows.push([String(n), `${(before / 2 ** 20).toFixed(1)} MB`, fmt(ms), `${Math.round(appended)} B per append (file not rewritten)`]);
    if (n === 10_000) at10k = ms;
  }
  return { rows, at10k };
}
