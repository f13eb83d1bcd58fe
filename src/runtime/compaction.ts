import type { MessageCreateParamsBase } from "@anthropic-ai/sdk/resources/messages";
import type { EventSink } from "../events/sink.js";
import { toApiMessages, type Message } from "../conversation/messages.js";
import type { SessionStore } from "../store/session-store.js";
import type { ModelClient } from "../provider/client.js";
import { describeProviderError } from "../provider/errors.js";
import { PodError } from "../errors.js";
import { builtInTool } from "../tools/registry.js";

export interface CompactionInputs {
  client: ModelClient;
  model: string;
  store: SessionStore;
  keepRecentTurns: number;
  /** Files the agent touched in this process (from the tracker); the session's tool calls are scanned too. */
  touched: { read: string[]; written: string[] };
  sink: EventSink;
  signal?: AbortSignal;
  systemPrompt?: string | undefined;
  /**
   * The run's own request for a history (tools, system, messages, with their cache
   * breakpoints). When given, the summary request is that request plus one
   * instruction at the end, so its whole prefix is read from the prompt cache the
   * last turn wrote (0.1× the price) instead of sending a transcript at full price.
   * `pod compact`, a process without the run's tools, sends the transcript.
   */
  prefix?: ((history: readonly Message[]) => MessageCreateParamsBase) | undefined;
}

export type CompactionOutcome = { compacted: true; tokensBefore: number; tokensAfter: number } | { compacted: false; reason: string };

const SUMMARY_DIRECTIONS =
  "Write a factual summary: the user's requests, what was found, what was changed (with file paths), decisions made, " +
  "commands run and their outcome, and what is still open. Keep exact names, paths, error messages and numbers. " +
  "Do not invent anything. Write plain text, no preamble.";
const SUMMARY_SYSTEM = `You compress the history of a coding agent's session so the agent can continue the task with less context. ${SUMMARY_DIRECTIONS}`;
const RESULT_CHARS_IN_TRANSCRIPT = 2000;

/**
 * Replaces the older part of the session with a model-written summary, keeping the
 * last `keepRecentTurns` turns verbatim. Cuts only before an assistant message (or
 * the prompt that asked for it), so a tool_use is never split from its tool_result.
 * The store gets one compaction record at the very end: a failure anywhere before
 * that leaves the session file exactly as it was. Nothing is deleted: the full
 * history stays in the file (`pod history --full`).
 */
export async function compactSession(inp: CompactionInputs): Promise<CompactionOutcome> {
  const all = inp.store.allMessages().map((s) => s.message);
  const from = inp.store.compaction()?.keep_from ?? 0;
  const keepFrom = chooseKeepFrom(all, from, inp.keepRecentTurns);
  if (keepFrom === undefined) return { compacted: false, reason: `the session has no more than ${inp.keepRecentTurns} turns since the last compaction` };

  const previousSummary = inp.store.compaction()?.summary;
  const older = all.slice(from, keepFrom);
  const touched = mergeTouched(inp.touched, touchedIn(older));
  const tokensBefore = await countTokens(inp, inp.store.messages());

  let summary: string;
  try {
    const response = await inp.client.messages.create(
      inp.prefix
        ? summaryLimit(withInstruction(inp.prefix(inp.store.messages()), cachedSummaryInstruction(inp.keepRecentTurns, touched)))
        : {
            model: inp.model,
            max_tokens: 4096,
            system: SUMMARY_SYSTEM,
            messages: [{ role: "user", content: summaryRequest(previousSummary, older, touched) }],
          },
      { signal: inp.signal },
    );
    summary = response.content
      .filter((b) => b.type === "text")
      .map((b) => (b as { text: string }).text)
      .join("\n")
      .trim();
  } catch (err) {
    throw new PodError("provider_error", `compaction failed: ${describeProviderError(err, inp.client.baseURL)}`, "the session was left exactly as it was; `pod compact` tries again");
  }
  if (!summary) throw new PodError("provider_error", "compaction failed: the model returned an empty summary", "the session was left exactly as it was");

  const text = summaryMessage(summary, touched);
  const tokensAfter = await countTokens(inp, [{ role: "user", content: [{ type: "text", text }] }, ...all.slice(keepFrom)]);
  await inp.store.appendCompaction({ keep_from: keepFrom, summary: text, tokens_before: tokensBefore, tokens_after: tokensAfter });
  inp.sink.emit("compaction", { tokens_before: tokensBefore, tokens_after: tokensAfter });
  return { compacted: true, tokensBefore, tokensAfter };
}

/**
 * Index of the first message kept verbatim, or undefined when there is nothing
 * older than the kept turns. A turn starts at an assistant message; the user
 * prompt right before it is kept with it.
 */
export function chooseKeepFrom(messages: readonly Message[], from: number, keepTurns: number): number | undefined {
  const starts: number[] = [];
  for (let i = from; i < messages.length; i++) if (messages[i]!.role === "assistant") starts.push(i);
  if (starts.length <= keepTurns) return undefined;
  let cut = keepTurns === 0 ? messages.length : starts[starts.length - keepTurns]!;
  const before = messages[cut - 1];
  if (before && before.role === "user" && before.content.every((b) => b.type === "text")) cut--;
  return cut > from ? cut : undefined;
}

function summaryRequest(previous: string | undefined, older: readonly Message[], touched: { read: string[]; written: string[] }): string {
  const lines: string[] = [];
  if (previous) lines.push("Summary of the session before this part:", previous, "");
  lines.push("Transcript of the part to summarize:", "");
  for (const m of older) {
    for (const b of m.content) {
      if (b.type === "text") lines.push(`[${m.role}] ${b.text}`);
      else if (b.type === "tool_use") lines.push(`[assistant called ${b.name}] ${JSON.stringify(b.input)}`);
      // Thinking is the model's scratch work; what it did is in the text and the tool calls.
      else if (b.type === "thinking" || b.type === "redacted_thinking") continue;
      else {
        const body = b.content.length > RESULT_CHARS_IN_TRANSCRIPT ? `${b.content.slice(0, RESULT_CHARS_IN_TRANSCRIPT)}… (${b.content.length} chars)` : b.content;
        lines.push(`[tool result${b.is_error ? ", error" : ""}] ${body}`);
      }
    }
  }
  lines.push("", `Files read: ${touched.read.join(", ") || "none"}`, `Files written: ${touched.written.join(", ") || "none"}`, "");
  lines.push("Summarize this for the agent, naming the files read and written.");
  return lines.join("\n");
}

/** The summary request on top of the run's own request: the conversation is the transcript. */
function cachedSummaryInstruction(keepTurns: number, touched: { read: string[]; written: string[] }): string {
  const part = keepTurns === 0 ? "the whole conversation above" : `the conversation above up to, not including, your last ${keepTurns} responses (those are kept verbatim after the summary)`;
  return [
    "[pod: this session is being compacted. Do not call any tool; answer with text only.]",
    `Summarize ${part}, for yourself, so you can continue the task with less context. ${SUMMARY_DIRECTIONS}`,
    "",
    `Files read: ${touched.read.join(", ") || "none"}`,
    `Files written: ${touched.written.join(", ") || "none"}`,
    "",
    "Name the files read and written in the summary.",
  ].join("\n");
}

/**
 * The summary on top of the run's request answers in 4096 tokens; with thinking on
 * (kept, so the cached prefix still matches) thinking counts in max_tokens too, and the
 * API wants more than the budget: the run's own max_tokens, which the manifest keeps above it.
 */
function summaryLimit(request: MessageCreateParamsBase): MessageCreateParamsBase & { stream: false } {
  const thinking = request.thinking !== undefined && request.thinking.type !== "disabled";
  return { ...request, max_tokens: thinking ? Math.max(4096, request.max_tokens) : 4096, stream: false };
}

/**
 * Appends a user instruction after the request's messages without touching the blocks
 * before it (their cache breakpoints stay where the last turn wrote the cache).
 */
function withInstruction(request: MessageCreateParamsBase, text: string): MessageCreateParamsBase {
  const messages = [...request.messages];
  const last = messages.at(-1);
  const block = { type: "text" as const, text };
  if (last?.role === "user") {
    const content = typeof last.content === "string" ? [{ type: "text" as const, text: last.content }] : last.content;
    messages[messages.length - 1] = { ...last, content: [...content, block] };
  } else messages.push({ role: "user", content: [block] });
  return { ...request, messages };
}

function summaryMessage(summary: string, touched: { read: string[]; written: string[] }): string {
  return [
    "[This session was compacted. Summary of the earlier conversation:]",
    "",
    summary,
    "",
    `Files read: ${touched.read.join(", ") || "none"}`,
    `Files written: ${touched.written.join(", ") || "none"}`,
  ].join("\n");
}

/** Paths from the session's own file tool calls (what each touches: src/tools/registry.ts): a fresh process (pod compact) has no tracker history. */
function touchedIn(messages: readonly Message[]): { read: string[]; written: string[] } {
  const read = new Set<string>();
  const written = new Set<string>();
  for (const m of messages) {
    for (const b of m.content) {
      if (b.type !== "tool_use") continue;
      const p = (b.input as { path?: unknown } | null)?.path;
      if (typeof p !== "string") continue;
      const touches = builtInTool(b.name)?.touches;
      if (touches === "read") read.add(p);
      if (touches === "write") written.add(p);
    }
  }
  return { read: [...read], written: [...written] };
}

function mergeTouched(a: { read: string[]; written: string[] }, b: { read: string[]; written: string[] }) {
  return { read: [...new Set([...a.read, ...b.read])].sort(), written: [...new Set([...a.written, ...b.written])].sort() };
}

/** Token count from the API's count_tokens endpoint; a rough estimate (4 characters a token) if it is unavailable. */
async function countTokens(inp: CompactionInputs, messages: readonly Message[]): Promise<number> {
  const api = toApiMessages(messages);
  try {
    const r = await inp.client.messages.countTokens({
      model: inp.model,
      messages: api as Parameters<ModelClient["messages"]["countTokens"]>[0]["messages"],
      ...(inp.systemPrompt ? { system: inp.systemPrompt } : {}),
    });
    return r.input_tokens;
  } catch {
    return Math.ceil((JSON.stringify(api).length + (inp.systemPrompt?.length ?? 0)) / 4);
  }
}

/** The context size after a response: what the next request will at least send. */
export function contextTokens(u: { input_tokens: number; output_tokens: number; cache_read_input_tokens: number; cache_creation_input_tokens: number }): number {
  return u.input_tokens + u.cache_read_input_tokens + u.cache_creation_input_tokens + u.output_tokens;
}
