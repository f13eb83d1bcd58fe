import { afterEach, describe, expect, it } from "vitest";
import { createModelClient } from "../../src/provider/client.js";
import { startFakeServer, type FakeServer } from "../fake-server/server.js";

/**
 * ClientHooks.onRequestSent (src/provider/client.ts): the moment pod's background work on
 * the scope may start (src/changes/). It must come once per request, while the model is
 * still answering — never after the answer (the work would then delay the run) — through
 * pod's own fetch and through the global one.
 */
let server: FakeServer | undefined;
afterEach(async () => {
  await server?.close();
  server = undefined;
});

const usage = { input_tokens: 1, output_tokens: 1 };

for (const fetchGlobal of [false, true]) {
  describe(fetchGlobal ? "the global fetch (POD_FETCH_GLOBAL=1)" : "pod's own fetch", () => {
    it("once per request, before the response has been answered", async () => {
      let release!: () => void;
      const gate = new Promise<void>((r) => (release = r));
      server = await startFakeServer({ turns: [{ response: { content: [{ type: "text", text: "hi" }], stop_reason: "end_turn", usage } }, { response: { content: [{ type: "text", text: "again" }], stop_reason: "end_turn", usage } }] }, { gate });
      const env = { ANTHROPIC_API_KEY: "test-key", ANTHROPIC_BASE_URL: server.url, ...(fetchGlobal ? { POD_FETCH_GLOBAL: "1" } : {}) };
      const sent: number[] = [];
      const client = await createModelClient(env, { onRequestSent: () => sent.push(server!.requests.length) });
      const ask = () => client.messages.stream({ model: "claude-sonnet-5-5", max_tokens: 10, messages: [{ role: "user", content: "hi" }] }).finalMessage();
      const first = ask();
      // Held by the server: the request is out, the answer is not.
      for (let waited = 0; sent.length === 0 && waited < 5000; waited += 5) await new Promise((r) => setTimeout(r, 5));
      expect(sent.length).toBe(1);
      release();
      await first;
      await ask();
      expect(sent.length).toBe(2);
      expect(server.mismatches).toEqual([]);
    });
  });
}
