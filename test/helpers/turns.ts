/**
 * Builders for the fake Messages API's scripted turns (the shape test/fake-server/script.ts
 * validates), so a test says what the model does rather than how a turn is spelled.
 * Imports nothing: a turn is plain data.
 *
 *   startFakeServer({ turns: [toolTurn("t1", "Read", { path: "a.txt" }), textTurn("Done.", after("t1"))] })
 */

export interface Usage {
  input_tokens: number;
  output_tokens: number;
  cache_read_input_tokens: number;
  cache_creation_input_tokens: number;
}

/** A response's token counts (the fake server's default when a turn names none is usage(10, 5)). */
export const usage = (input = 10, output = 5, cacheRead = 0, cacheWrite = 0): Usage => ({
  input_tokens: input,
  output_tokens: output,
  cache_read_input_tokens: cacheRead,
  cache_creation_input_tokens: cacheWrite,
});

/** What else a turn may carry besides its response (script.ts: expect, delivery, fault), and its usage. */
export interface TurnExtras {
  usage?: Partial<Usage>;
  expect?: Record<string, unknown>;
  delivery?: Record<string, unknown>;
  fault?: Record<string, unknown>;
}

/** A tool_use content block. */
export const call = (id: string, name: string, input: object = {}) => ({ type: "tool_use" as const, id, name, input });

/** A response of `content` blocks that stops with `stop_reason` (any string, or null, for the unknown ones). */
export function reply(content: object[], stop_reason: string | null, extras: TurnExtras = {}) {
  const { usage: u, ...rest } = extras;
  return { ...rest, response: { content, stop_reason, ...(u ? { usage: u } : {}) } };
}

/** The model answers with text and ends its turn. */
export const textTurn = (text: string, extras: TurnExtras = {}) => reply([{ type: "text", text }], "end_turn", extras);

/** The model calls the tools of `calls` (call(...) blocks, maybe text too) and waits for their results. */
export const toolsTurn = (calls: object[], extras: TurnExtras = {}) => reply(calls, "tool_use", extras);

/** The model calls one tool. */
export const toolTurn = (id: string, name: string, input: object = {}, extras: TurnExtras = {}) => toolsTurn([call(id, name, input)], extras);

/** Extras for a turn that must come after the result of the call `id` was sent (the server checks it). */
export const after = (id: string) => ({ expect: { tool_result_for: id } });
