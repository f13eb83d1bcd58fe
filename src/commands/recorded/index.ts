// The recorded-runs commands (issues 24, 25): `pod runs`, `pod replay`, `pod export`, `pod import`, `pod report`,
// thin layers over src/runs/ through the shared agent bundle. They are bundled with `pod run`
// (src/commands/run.ts re-exports them) rather than each on its own: four more command
// bundles made the package ~0.1 MB larger (packed), past its budget (test/e2e/package.test.ts);
// report's own bundle did again (+25 kB packed, past 1.6 MiB).
// May import: ../../runtime/agent.js (the shared bundle: the runs/ readers, replay, export,
// import), ../../report/, ../context.js, ../../store/, ../../errors.js. Imported only by src/commands/run.ts.
export { runsCommand } from "./runs.js";
export { replayCommand } from "./replay.js";
export { exportCommand } from "./export.js";
export { importCommand } from "./import.js";
export { reportCommand } from "./report.js";
