// ajv, for --output-schema only: bundled on its own as dist/commands/ext/ajv.cjs
// (scripts/build.mjs), so a run without a schema does not parse its ~155 KB.
export { Ajv } from "ajv";
export { Ajv2020 } from "ajv/dist/2020.js";
