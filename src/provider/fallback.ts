import { StreamBrokenError } from "./errors.js";

/**
 * Whether the provider said it is overloaded (HTTP 529, or an overloaded_error in
 * the stream). Only this switches to [provider] fallback_model: other faults would
 * fail the same way on another model, or are the caller's to fix.
 */
export function isOverloaded(err: unknown): boolean {
  if (err instanceof StreamBrokenError) return isOverloaded(err.cause);
  const e = err as { status?: number; error?: { error?: { type?: string }; type?: string } };
  if (e?.status === 529) return true;
  return e?.error?.error?.type === "overloaded_error" || e?.error?.type === "overloaded_error";
}
