// The recorded-runs commands (issue 24): `pod runs`, `pod replay`, `pod export`, `pod import`,
// thin layers over src/runs/ through the shared agent bundle. They are bundled with `pod run`
// (src/commands/run.ts re-exports them) rather than each on its own: four more command
// bundles made the package ~0.1 MB larger (packed), past its budget (test/e2e/package.test.ts).
export { runsCommand } from "./runs.js";
export { replayCommand } from "./replay.js";
export { exportCommand } from "./export.js";
export { importCommand } from "./import.js";
