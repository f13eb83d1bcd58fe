import { Ajv2020 } from "ajv/dist/2020.js";
import addFormats from "ajv-formats";
import { eventJsonSchema } from "../../src/events/json-schema.js";

/**
 * A real JSON Schema validator (ajv, draft 2020-12) over the schema `pod schema`
 * prints, so every e2e run proves its stdout matches the published contract.
 */
const ajv = new Ajv2020({ allErrors: true, strict: false });
(addFormats as unknown as (a: Ajv2020) => void)(ajv);
const validate = ajv.compile(eventJsonSchema());

export function schemaErrors(event: unknown): string | undefined {
  if (validate(event)) return undefined;
  return ajv.errorsText(validate.errors);
}

/** Commands whose stdout is event lines (the others print documents). */
export const EVENT_COMMANDS = new Set(["run", "resume", "replay", "cancel", "compact", "new", "init"]);
