// The fake Messages API for the relay benchmark, on its own thread: the benchmark's
// reader must not slow the server down by sharing its event loop (pod's lines are
// longer than the baseline's, so a shared loop would charge pod for the reading).
import { parentPort, workerData } from "node:worker_threads";
import { startFakeServer } from "../test/fake-server/server.ts";

// No top-level await: tsx loads this file with require() inside the worker.
startFakeServer(workerData.script).then((server) => {
  parentPort.postMessage({ url: server.url });
  parentPort.once("message", async () => {
    await server.close();
    parentPort.postMessage({ firstSseByteAt: server.timings.firstSseByteAt });
  });
});
