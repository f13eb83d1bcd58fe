// Standalone fake Messages API: `npx tsx test/fake-server/cli.ts <fixture.json> [--port N] [--prompt-cache]`
// (--prompt-cache: usage from the model of Anthropic's prompt cache, see prompt-cache.ts).
// Prints one line {"url": "..."} and serves until SIGTERM/SIGINT. With FAKE_SERVER_LOG set,
// writes the recorded requests (and mismatches) there on exit.
import { writeFileSync } from "node:fs";
import { loadFixture, startFakeServer } from "./server.js";

const [fixture, ...rest] = process.argv.slice(2);
if (!fixture) {
  process.stderr.write("usage: cli.ts <fixture.json|name> [--port N] [--prompt-cache]\n");
  process.exit(2);
}
const portFlag = rest.indexOf("--port");
const port = portFlag >= 0 ? Number(rest[portFlag + 1]) : 0;
const server = await startFakeServer(loadFixture(fixture), { port, promptCache: rest.includes("--prompt-cache") });
process.stdout.write(JSON.stringify({ url: server.url }) + "\n");

const stop = async () => {
  await server.close();
  if (process.env.FAKE_SERVER_LOG) {
    writeFileSync(process.env.FAKE_SERVER_LOG, JSON.stringify({ requests: server.requests, mismatches: server.mismatches }, null, 2));
  }
  process.exit(0);
};
process.on("SIGTERM", stop);
process.on("SIGINT", stop);
