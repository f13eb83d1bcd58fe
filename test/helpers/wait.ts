/**
 * Waiting for a condition a loaded machine may take a moment to reach (a killed process
 * gone from `ps`, a child that has started), instead of sleeping a guessed time and then
 * asserting. Never a speed bound: the limit only turns a condition that never comes into
 * a failure before the test's timeout does.
 */

/** Polls `check` every 50 ms; resolves to whether it held within `ms` (10 s by default). */
export async function eventually(check: () => boolean | Promise<boolean>, ms = 10_000): Promise<boolean> {
  const deadline = Date.now() + ms;
  for (;;) {
    if (await check()) return true;
    if (Date.now() > deadline) return false;
    await new Promise((r) => setTimeout(r, 50));
  }
}

/** Polls `check` every 50 ms until it holds (bounded by the test's timeout alone). */
export async function until(check: () => boolean | Promise<boolean>): Promise<void> {
  while (!(await check())) await new Promise((r) => setTimeout(r, 50));
}
