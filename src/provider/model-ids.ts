/**
 * pod's model names are the Anthropic API's ("claude-sonnet-5-5"); Bedrock and Vertex
 * name the same models differently. An id that already looks provider-specific is
 * used as given: on Bedrock one with a "." or ":" (anthropic.…, us.anthropic.…,
 * an ARN), on Vertex one with an "@". Otherwise:
 *   Bedrock: a model with a dated id in the table below gets it; others become
 *            `anthropic.<name>-v1` (the undated form of newer models).
 *   Vertex:  a model with a dated id in the table gets `<name>@<date>`; others stay `<name>`.
 * Prices and usage are looked up under pod's name, so they are the same on every provider.
 */
const DATED: Record<string, string> = {
  "claude-opus-4-5": "20251101",
  "claude-haiku-4-5": "20251001",
  "claude-sonnet-4-5": "20250929",
  "claude-opus-4-1": "20250805",
  "claude-opus-4": "20250514",
  "claude-sonnet-4": "20250514",
};

export function bedrockModelId(model: string): string {
  if (/[.:]/.test(model)) return model;
  const date = DATED[model];
  return date ? `anthropic.${model}-${date}-v1:0` : `anthropic.${model}-v1`;
}

export function vertexModelId(model: string): string {
  if (model.includes("@")) return model;
  const date = DATED[model];
  return date ? `${model}@${date}` : model;
}
