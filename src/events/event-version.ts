/**
 * The `v` of every event line and of `--format json`'s answer. A module of its own so
 * answer.ts, which the commands import only for `--format json|text`, does not pull
 * the zod schemas into that lazily loaded part of each bundle: the bundler then wraps
 * every module the schemas need in a function parsed twice at each start (~2 ms of
 * `pod status`, bench/results.md). Bumped only with a breaking change (schema.ts).
 */
export const EVENT_VERSION = 1;
