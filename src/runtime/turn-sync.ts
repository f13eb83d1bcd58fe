// Durability per turn (docs/runtime.md, "Durability"): the turn's fdatasync and the
// steps that follow a turn, both run alongside the next request rather than before it.
import type { SessionStore } from "../store/session-store.js";
import { TIMING, timing } from "../timing.js";

/**
 * What comes after a turn but need not hold up the next request: the turn's status.json
 * save, then its turn_end line and the next turn_start, in that order. They run while the
 * next request is built and sent; flush() is awaited before anything else is printed (the
 * next response's first event, a retry, a compaction) and before the run ends.
 */
export class Trailing {
  private tail: Promise<void> | undefined;
  then(step: () => void | Promise<void>): void {
    const next = (this.tail ?? Promise.resolve()).then(step);
    // A failure is thrown by flush(); until then it is not an unhandled rejection.
    next.catch(() => {});
    this.tail = next;
  }
  async flush(): Promise<void> {
    const tail = this.tail;
    this.tail = undefined;
    await tail;
  }
}

/** Starts the turn's fdatasync without waiting for it (a failure is kept by the store and thrown by the next sync()). */
export function startTurnSync(store: SessionStore, turn: number): void {
  if (store.isDurable()) return;
  const start = TIMING ? performance.now() : 0;
  store.sync().then(
    () => TIMING && timing({ turn, phase: "sync", ms: performance.now() - start }),
    () => {},
  );
}

/** Waits until every line written so far is durable: before the first event of a response is printed. */
export async function awaitTurnSync(store: SessionStore, turn: number): Promise<void> {
  if (store.isDurable()) return;
  const start = TIMING ? performance.now() : 0;
  await store.sync();
  if (TIMING) timing({ turn, phase: "await_sync", ms: performance.now() - start });
}
