import type { Toolbox } from "./index.js";

/**
 * `[tools] disabled`: those tools are removed from the toolbox, so they are not in
 * the request's tools and a call to one is answered as an unknown tool.
 */
export function withoutDisabled(toolbox: Toolbox, disabled: readonly string[]): Toolbox {
  if (disabled.length === 0) return toolbox;
  const hidden = new Set(disabled);
  return { ...toolbox, tools: toolbox.tools.filter((t) => !hidden.has(t.name)) };
}
