import * as z from "zod/mini";
import { EVENT_VERSION, podEventSchema } from "./schema.js";

/** JSON Schema (draft 2020-12) of one event line, for `pod schema`, from the same zod schemas that build events. */
export function eventJsonSchema(): Record<string, unknown> {
  return {
    ...z.toJSONSchema(podEventSchema(), { target: "draft-2020-12" }),
    title: "pod event line",
    description: `One line of pod's stdout (protocol v${EVENT_VERSION}). See docs/events.md.`,
  };
}
