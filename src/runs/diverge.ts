// How a request differs from the one the recorded run sent, said for a person at midnight:
// which part (the system prompt, a tool, message 5's second block, the tool result of a
// Read call), and a short diff of the first line that differs. Pure: values in, text out.

type Json = unknown;
type Body = Record<string, Json>;

/** A readable description of the first difference, or undefined when the two bodies are the same JSON. */
export function firstDifference(recorded: Body, now: Body): string | undefined {
  const keys = [...new Set([...Object.keys(recorded), ...Object.keys(now)])];
  // The order a person reads a request in: what frames it, then the conversation.
  const order = ["model", "max_tokens", "thinking", "system", "tools", "messages"];
  keys.sort((a, b) => rank(order, a) - rank(order, b));
  for (const key of keys) {
    const a = recorded[key];
    const b = now[key];
    if (same(a, b)) continue;
    if (key === "system") return `the system prompt differs: ${textDiff(systemText(a), systemText(b))}`;
    if (key === "tools") return toolsDifference(a, b);
    if (key === "messages") return messagesDifference(asArray(a), asArray(b));
    if (a === undefined) return `the request has "${key}" (${short(b)}), which the recorded one did not`;
    if (b === undefined) return `the recorded request had "${key}" (${short(a)}), which this one has not`;
    return `"${key}" differs: recorded ${short(a)}, now ${short(b)}`;
  }
  return undefined;
}

function rank(order: string[], key: string): number {
  const i = order.indexOf(key);
  return i < 0 ? order.length - 1 : i;
}

/** Deep equality of JSON values, key order aside. */
export function same(a: Json, b: Json): boolean {
  if (a === b) return true;
  if (typeof a !== typeof b || a === null || b === null || typeof a !== "object") return false;
  if (Array.isArray(a) !== Array.isArray(b)) return false;
  if (Array.isArray(a)) {
    const y = b as Json[];
    return a.length === y.length && a.every((v, i) => same(v, y[i]));
  }
  const x = a as Record<string, Json>;
  const y = b as Record<string, Json>;
  const kx = Object.keys(x).filter((k) => x[k] !== undefined);
  const ky = Object.keys(y).filter((k) => y[k] !== undefined);
  return kx.length === ky.length && kx.every((k) => same(x[k], y[k]));
}

function systemText(s: Json): string {
  if (typeof s === "string") return s;
  if (Array.isArray(s)) return s.map((b) => (b && typeof b === "object" && typeof (b as { text?: unknown }).text === "string" ? (b as { text: string }).text : JSON.stringify(b))).join("\n");
  return s === undefined ? "" : JSON.stringify(s);
}

function toolsDifference(a: Json, b: Json): string {
  const named = (list: Json) => new Map(asArray(list).map((t) => [String((t as { name?: unknown })?.name), t as Record<string, Json>]));
  const was = named(a);
  const is = named(b);
  const added = [...is.keys()].filter((n) => !was.has(n));
  const removed = [...was.keys()].filter((n) => !is.has(n));
  if (added.length || removed.length) {
    return `the tools differ: ${[added.length ? `now also ${added.join(", ")}` : "", removed.length ? `no longer ${removed.join(", ")}` : ""].filter(Boolean).join("; ")}`;
  }
  for (const [name, t] of was) {
    const u = is.get(name)!;
    if (same(t, u)) continue;
    if (!same(t.description, u.description)) return `the ${name} tool's description differs: ${textDiff(String(t.description ?? ""), String(u.description ?? ""))}`;
    if (!same(t.input_schema, u.input_schema)) return `the ${name} tool's input schema differs: recorded ${short(t.input_schema)}, now ${short(u.input_schema)}`;
    return `the ${name} tool's definition differs: recorded ${short(t)}, now ${short(u)}`;
  }
  return "the tools are listed in another order";
}

function messagesDifference(a: Json[], b: Json[]): string {
  const n = Math.min(a.length, b.length);
  for (let i = 0; i < n; i++) {
    if (same(a[i], b[i])) continue;
    const x = a[i] as { role?: string; content?: Json };
    const y = b[i] as { role?: string; content?: Json };
    const where = `message ${i + 1} of ${b.length}`;
    if (x.role !== y.role) return `${where} is from the ${y.role}, the recorded one from the ${x.role}`;
    const xs = blocks(x.content);
    const ys = blocks(y.content);
    for (let j = 0; j < Math.max(xs.length, ys.length); j++) {
      if (same(xs[j], ys[j])) continue;
      const block = `${where} (${y.role}), block ${j + 1}`;
      if (xs[j] === undefined) return `${block} is new: ${describeBlock(ys[j], b)} ${short(blockText(ys[j]))}`;
      if (ys[j] === undefined) return `${block} is missing: the recorded request had ${describeBlock(xs[j], a)} ${short(blockText(xs[j]))}`;
      const what = describeBlock(ys[j], b);
      const tx = blockText(xs[j]);
      const ty = blockText(ys[j]);
      if ((xs[j] as { type?: unknown }).type !== (ys[j] as { type?: unknown }).type) return `${block} is ${what}, the recorded one ${describeBlock(xs[j], a)}`;
      if (tx === ty) return `${block} (${what}) differs: recorded ${short(xs[j])}, now ${short(ys[j])}`;
      return `${block} (${what}) differs: ${textDiff(tx, ty)}`;
    }
    return `${where} differs`;
  }
  if (a.length > b.length) return `the request has ${b.length} messages, the recorded one ${a.length}: ${describeMessage(a[b.length], a)} is missing`;
  return `the request has ${b.length} messages, the recorded one ${a.length}: message ${a.length + 1} (${describeMessage(b[a.length], b)}) is new`;
}

function blocks(content: Json): Json[] {
  if (typeof content === "string") return [{ type: "text", text: content }];
  return asArray(content);
}

function describeMessage(m: Json, all: Json[]): string {
  const x = m as { role?: string; content?: Json };
  const first = blocks(x?.content)[0];
  const role = x?.role ?? "?";
  return `${role === "assistant" ? "an" : "a"} ${role} message${first ? ` starting with ${describeBlock(first, all)}` : ""}`;
}

/** "the text", "a Read call (toolu_1)", "the result of the Read call toolu_1 (an error)". */
function describeBlock(block: Json, all: Json[]): string {
  const b = (block ?? {}) as { type?: string; name?: string; id?: string; tool_use_id?: string; is_error?: boolean };
  switch (b.type) {
    case "text":
      return "the text";
    case "tool_use":
      return `a ${b.name} call (${b.id})`;
    case "tool_result": {
      const name = toolNameOf(b.tool_use_id, all);
      return `the result of ${name ? `the ${name} call` : "the call"} ${b.tool_use_id}${b.is_error ? " (an error)" : ""}`;
    }
    case "thinking":
    case "redacted_thinking":
      return "the thinking";
    default:
      return `a ${b.type ?? "?"} block`;
  }
}

function toolNameOf(id: string | undefined, messages: Json[]): string | undefined {
  for (const m of messages) {
    for (const b of blocks((m as { content?: Json })?.content)) {
      const u = b as { type?: string; id?: string; name?: string };
      if (u?.type === "tool_use" && u.id === id) return u.name;
    }
  }
  return undefined;
}

function blockText(block: Json): string {
  const b = (block ?? {}) as { type?: string; text?: unknown; content?: unknown; input?: unknown; thinking?: unknown };
  if (b.type === "text" && typeof b.text === "string") return b.text;
  if (b.type === "tool_result") return typeof b.content === "string" ? b.content : JSON.stringify(b.content);
  if (b.type === "tool_use") return JSON.stringify(b.input);
  if (b.type === "thinking" && typeof b.thinking === "string") return b.thinking;
  return JSON.stringify(block);
}

/**
 * The first line that differs, as a two-line diff with its line number; a line longer than
 * the window is shown around its first differing character.
 */
export function textDiff(recorded: string, now: string): string {
  const a = recorded.split("\n");
  const b = now.split("\n");
  let i = 0;
  while (i < a.length && i < b.length && a[i] === b[i]) i++;
  if (i >= a.length && i >= b.length) return "(no visible difference)";
  const la = a[i];
  const lb = b[i];
  const shown = window(la ?? "", lb ?? "");
  const minus = la === undefined ? "(recorded text ends here)" : JSON.stringify(shown[0]);
  const plus = lb === undefined ? "(text ends here now)" : JSON.stringify(shown[1]);
  return `line ${i + 1}: - ${minus} + ${plus}`;
}

const WINDOW = 100;

function window(a: string, b: string): [string, string] {
  if (a.length <= WINDOW && b.length <= WINDOW) return [a, b];
  let c = 0;
  while (c < a.length && c < b.length && a[c] === b[c]) c++;
  const from = Math.max(0, c - 30);
  const cut = (s: string) => `${from > 0 ? "…" : ""}${s.slice(from, from + WINDOW)}${s.length > from + WINDOW ? "…" : ""}`;
  return [cut(a), cut(b)];
}

function short(v: Json): string {
  const s = typeof v === "string" ? JSON.stringify(v) : JSON.stringify(v) ?? "undefined";
  return s.length > 160 ? `${s.slice(0, 160)}…` : s;
}

function asArray(v: Json): Json[] {
  return Array.isArray(v) ? v : [];
}
