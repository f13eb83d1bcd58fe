// A credential left in .git/config by actions/checkout (persist-credentials: true) is
// named in a run_start warning with the fix, and its value appears in no event
// (issue 22 item 4). End to end, the built binary.
import { afterEach, describe, expect, it } from "vitest";
import { startFakeServer, type FakeServer } from "../fake-server/server.js";
import { makeProject, manifest, podEnv, runPod } from "../helpers/pod-process.js";

const done = { response: { content: [{ type: "text", text: "done" }] } };

let server: FakeServer | undefined;
afterEach(async () => {
  await server?.close();
  server = undefined;
});

describe("credentials in .git/config are named at the start of the run", () => {
  it("run_start warns about actions/checkout's extraheader and recommends persist-credentials: false", async () => {
    server = await startFakeServer({ turns: [done] });
    const dir = await makeProject(manifest(), {
      ".git/config": '[core]\n\trepositoryformatversion = 0\n[http "https://github.com/"]\n\textraheader = AUTHORIZATION: basic eC1hY2Nlc3MtdG9rZW46Z2hzX1NFQ1JFVA==\n',
      ".git/HEAD": "ref: refs/heads/main\n",
    });
    const r = await runPod(["run", "go"], { cwd: dir, env: podEnv(server.url) });
    expect(r.code).toBe(0);
    const start = r.events[0];
    expect(start.type).toBe("run_start");
    expect(start.warnings).toHaveLength(1);
    expect(start.warnings[0]).toContain(".git/config");
    expect(start.warnings[0]).toContain("extraheader");
    expect(start.warnings[0]).toContain("persist-credentials: false");
    expect(JSON.stringify(r.events)).not.toContain("eC1hY2Nlc3MtdG9rZW46Z2hzX1NFQ1JFVA==");
  });

  it("a clean checkout gets no warning", async () => {
    server = await startFakeServer({ turns: [done] });
    const dir = await makeProject(manifest(), { ".git/config": "[core]\n\trepositoryformatversion = 0\n", ".git/HEAD": "ref: refs/heads/main\n" });
    const r = await runPod(["run", "go"], { cwd: dir, env: podEnv(server.url) });
    expect(r.events[0].warnings).toBeUndefined();
  });
});
