import { readFileSync } from "node:fs";
import path from "node:path";
import { Ajv, type ValidateFunction } from "ajv";
import addFormats from "ajv-formats";
import { REPO_ROOT } from "./pod-process.js";

/**
 * The official SARIF 2.1.0 schemas (test/fixtures/sarif/README.md says where they come
 * from), compiled once with ajv and ajv-formats (uri, uri-reference, date-time checked).
 */
let validators: Array<{ name: string; validate: ValidateFunction }> | undefined;

function compile(): Array<{ name: string; validate: ValidateFunction }> {
  const dir = path.join(REPO_ROOT, "test/fixtures/sarif");
  const load = (f: string) => JSON.parse(readFileSync(path.join(dir, f), "utf8"));
  const draft07 = load("sarif-schema-2.1.0.json");
  // The OASIS Standard's copy is draft-04: read as draft-07 (no keyword it uses changed meaning), its `id` as `$id`.
  const { id, ...rest } = load("sarif-schema-2.1.0.draft-04.json");
  const draft04 = { ...rest, $schema: "http://json-schema.org/draft-07/schema#", $id: id };
  return [draft07, draft04].map((schema) => {
    // unicodeRegExp off: the schema's `language` pattern ("…{2}]?$", a stray bracket) is valid only without the u flag.
    const ajv = new Ajv({ allErrors: true, strict: false, unicodeRegExp: false });
    addFormats.default(ajv);
    return { name: schema.$id as string, validate: ajv.compile(schema) };
  });
}

/** The schema errors of a SARIF log against both official schemas; [] when valid. */
export function sarifSchemaErrors(log: unknown): string[] {
  validators ??= compile();
  return validators.flatMap(({ name, validate }) => (validate(log) ? [] : (validate.errors ?? []).map((e) => `${name}: ${e.instancePath} ${e.message}`)));
}
