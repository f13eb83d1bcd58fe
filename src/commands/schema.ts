import { eventJsonSchema } from "../events/json-schema.js";

/** `pod schema`: the JSON Schema of every event line, generated from the zod schemas. */
export async function schemaCommand(): Promise<number> {
  process.stdout.write(JSON.stringify(eventJsonSchema(), null, 2) + "\n");
  return 0;
}
