import type { ToolResult } from "./types.js";

/** Output caps: what one tool result may put into the model's context. */
export const OUTPUT_CAP_CHARS = 50_000;

export const ok = (output: string, truncated = false): ToolResult => ({ output, isError: false, truncated });
export const fail = (output: string): ToolResult => ({ output, isError: true, truncated: false });

/** A NUL byte in the first 8 KiB marks a binary file, as git and ripgrep decide. */
export function looksBinary(buf: Buffer): boolean {
  return buf.subarray(0, 8192).includes(0);
}

/** Cuts text to the cap and says so in words, so the model knows it saw a part. */
export function capOutput(text: string, cap = OUTPUT_CAP_CHARS, hint = "narrow the request to see the rest"): ToolResult {
  if (text.length <= cap) return ok(text);
  const cut = text.lastIndexOf("\n", cap);
  const kept = text.slice(0, cut > cap / 2 ? cut : cap);
  return ok(`${kept}\n[truncated: output was ${text.length} characters, showing the first ${kept.length}; ${hint}]`, true);
}
