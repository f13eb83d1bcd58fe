// The fake Messages API for the per-turn bench, on its own thread (as relay-server.mjs):
// the bench's own work (reading pod's stderr, holding every recorded request) must not
// delay the server's handling of pod's next request, which the bench charges to pod.
import { parentPort, workerData } from "node:worker_threads";
import { startFakeServer } from "../test/fake-server/server.ts";

// No top-level await: tsx loads this file with require() inside the worker.
startFakeServer(workerData.script).then((server) => {
  parentPort.postMessage({ url: server.url });
  parentPort.once("message", async () => {
    await server.close();
    // Only what the bench needs: the stamps, not the request bodies.
    const requests = server.requests.map((r) => ({ path: r.path, receivedAt: r.receivedAt, respondedAt: r.respondedAt }));
    parentPort.postMessage({ requests, mismatches: server.mismatches });
  });
});
