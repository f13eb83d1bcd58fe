import type { EventSink } from "../events/sink.js";
import type { HookEnv } from "../hooks/hooks.js";
import type { TurnRelay } from "../provider/turn.js";
import type { PodWatch } from "../store/pod-owner.js";

// Where what the lower layers report becomes event lines. Only the runtime (and the
// commands) emit events: the store, the provider and the hooks tell their caller what
// happened through the small interfaces they declare (PodWatch, TurnRelay, HookRecorder),
// and these functions bind each one to the run's sink. So the envelope's session id is
// set for a pod here, and a newcomer looking for who prints `state_repaired` finds one file.

/**
 * The session the events from now on are about (the envelope's session_id): the one place
 * it is set, for a pod taken (podWatch), a stored session compacted, a run replayed, a run cancelled.
 */
export function aboutSession(sink: EventSink, id: string): void {
  sink.sessionId = id;
}

/** Taking a pod (src/store/pod-owner.ts): its session becomes the envelope's; each repair is a `state_repaired` line. */
export function podWatch(sink: EventSink): PodWatch {
  return {
    redactor: sink.redactor,
    session(id) {
      aboutSession(sink, id);
    },
    repaired(message, previousPid) {
      sink.emit("state_repaired", { message, previous_pid: previousPid });
    },
  };
}

/** The hooks (src/hooks/hooks.ts): what they read of the run, and each one that ran as a `hook` line. */
export function hookReports(sink: EventSink): Pick<HookEnv, "redactor" | "sessionId" | "record"> {
  return {
    redactor: sink.redactor,
    sessionId: () => sink.sessionId,
    record(hook) {
      sink.emit("hook", hook);
    },
  };
}

/** A model turn (src/provider/turn.ts): each delta and `waiting` line it relays, printed as it comes. */
export function turnRelay(sink: EventSink): TurnRelay {
  return (e) => sink.emit(e.type, e.body as never);
}
