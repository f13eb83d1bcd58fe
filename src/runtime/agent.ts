// The agent's machinery, shared by the commands that talk to the model (run, resume, replay,
// compact). Bundled once as dist/commands/agent.cjs, which those commands require:
// three copies of the SDK and the run loop made the package ~0.4 MB larger (packed).
export { invokeRun } from "./invocation.js";
export { compactSession } from "./compaction.js";
export { createProviderClient } from "../provider/client.js";
export { takePod } from "../store/pod-owner.js";
export { aboutSession, podWatch } from "./emit.js";
export { invokeReplay } from "./replay.js";
export { exportPod, importBundle } from "../runs/bundle.js";
export { latestRunId, listRuns, readRun } from "../runs/reader.js";
