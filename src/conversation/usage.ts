import "../zod-mini.js";
import * as z from "zod/mini";

/**
 * Tokens a model call (or a run, or a session) used, as the Messages API counts them.
 * The schema is zod/mini because the event schemas (the stdout contract, `pod schema`)
 * and status.json embed it, and every command loads those.
 */
const count = () => z.int().check(z.nonnegative());

export const Usage = z.object({
  input_tokens: count(),
  output_tokens: count(),
  cache_read_input_tokens: count(),
  cache_creation_input_tokens: count(),
});
export type Usage = z.infer<typeof Usage>;

export const ZERO_USAGE: Usage = {
  input_tokens: 0,
  output_tokens: 0,
  cache_read_input_tokens: 0,
  cache_creation_input_tokens: 0,
};

export function addUsage(a: Usage, b: Usage): Usage {
  return {
    input_tokens: a.input_tokens + b.input_tokens,
    output_tokens: a.output_tokens + b.output_tokens,
    cache_read_input_tokens: a.cache_read_input_tokens + b.cache_read_input_tokens,
    cache_creation_input_tokens: a.cache_creation_input_tokens + b.cache_creation_input_tokens,
  };
}
