/**
 * pod's configuration from the environment, read in one place, one default each.
 * (Grows in the env-config commit; see docs/runtime.md.)
 */
export function contextWindowOverride(env: NodeJS.ProcessEnv = process.env): number | undefined {
  const n = Number(env.POD_CONTEXT_WINDOW);
  return Number.isFinite(n) && n > 0 ? n : undefined;
}
