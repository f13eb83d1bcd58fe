import { generateKeyPairSync } from "node:crypto";
import { mkdtemp, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import path from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import { startBedrockFake, startVertexFake, type CloudFake } from "../fake-server/clouds.js";
import { startFakeServer, type FakeServer } from "../fake-server/server.js";
import { makeProject, manifest, ofType, podEnv, runPod, TEST_API_KEY } from "../helpers/pod-process.js";

const textTurn = (text: string, expect?: object) => ({
  ...(expect ? { expect } : {}),
  response: { content: [{ type: "text", text }], stop_reason: "end_turn", usage: { input_tokens: 1000, output_tokens: 100 } },
});

let server: FakeServer | undefined;
let cloud: CloudFake | undefined;
afterEach(async () => {
  await cloud?.close();
  await server?.close();
  server = cloud = undefined;
});

/** An environment with no Anthropic key: the clouds' own credentials only. */
function cloudEnv(extra: Record<string, string>) {
  return podEnv(undefined, { ANTHROPIC_API_KEY: undefined, ANTHROPIC_BASE_URL: undefined, AWS_PROFILE: undefined, ...extra });
}

describe("providers", () => {
  it("Bedrock: signs with AWS credentials from the environment, maps the model id, decodes event-stream frames", async () => {
    server = await startFakeServer({ turns: [textTurn("hello from bedrock", { model: "anthropic.claude-sonnet-5-5-v1" })] });
    cloud = await startBedrockFake(server.url);
    const dir = await makeProject(manifest({ scope: false, extra: '\n[provider]\nname = "bedrock"\nregion = "eu-west-1"\n' }));
    const r = await runPod(["run", "hi"], {
      cwd: dir,
      env: cloudEnv({ ANTHROPIC_BEDROCK_BASE_URL: cloud.url, AWS_ACCESS_KEY_ID: "AKIDFAKEEXAMPLE", AWS_SECRET_ACCESS_KEY: "fake-secret-key-value" }),
    });
    expect(server.mismatches).toEqual([]);
    expect(r.code).toBe(0);
    expect(ofType(r.events, "text_done")[0].text).toBe("hello from bedrock");
    expect(cloud.requests[0]!.path).toBe("/model/anthropic.claude-sonnet-5-5-v1/invoke-with-response-stream");
    expect(String(cloud.requests[0]!.headers.authorization)).toMatch(/^AWS4-HMAC-SHA256 Credential=AKIDFAKEEXAMPLE\/\d{8}\/eu-west-1\/bedrock\/aws4_request/);
    // Usage and prices are pod's, under pod's model name.
    expect(r.events.at(-1)).toMatchObject({ result: "finished", usage: { input_tokens: 1000, output_tokens: 100 } });
    expect(r.events.at(-1).cost_usd).toBeGreaterThan(0);
    expect(r.stdout + r.stderr).not.toContain("fake-secret-key-value");
  });

  it("Vertex: Google credentials from GOOGLE_APPLICATION_CREDENTIALS, streamRawPredict on the project's path", async () => {
    server = await startFakeServer({ turns: [textTurn("hello from vertex", { model: "claude-sonnet-4-5@20250929" })] });
    cloud = await startVertexFake(server.url);
    const creds = await fakeServiceAccount();
    const dir = await makeProject(
      manifest({ scope: false, extra: '\n[provider]\nname = "vertex"\nregion = "us-east5"\nproject_id = "my-proj"\n' }).replace('model = "claude-sonnet-5-5"', 'model = "claude-sonnet-4-5"'),
    );
    const r = await runPod(["run", "hi"], { cwd: dir, env: cloudEnv({ ANTHROPIC_VERTEX_BASE_URL: `${cloud.url}/v1`, GOOGLE_APPLICATION_CREDENTIALS: creds }) });
    expect(server.mismatches).toEqual([]);
    expect(r.code).toBe(0);
    expect(ofType(r.events, "text_done")[0].text).toBe("hello from vertex");
    expect(cloud.requests[0]!.path).toBe("/v1/projects/my-proj/locations/us-east5/publishers/anthropic/models/claude-sonnet-4-5@20250929:streamRawPredict");
    expect(String(cloud.requests[0]!.headers.authorization)).toMatch(/^Bearer \S+/);
    // The SDK moves the version into the body and the model into the path, as Vertex wants.
    expect(cloud.requests[0]!.body.anthropic_version).toBeTypeOf("string");
    expect(cloud.requests[0]!.body.model).toBeUndefined();
    expect(r.events[0]).toMatchObject({ type: "run_start", model: "claude-sonnet-4-5" });
  });

  it("falls back to [provider] fallback_model when the model stays overloaded (529) after retries", async () => {
    server = await startFakeServer({
      turns: [
        { ...textTurn("answered by the fallback"), fault: { kind: "http", status: 529, retry_after_s: 0, times: 2, message: "Overloaded" } },
        textTurn("still the fallback", { model: "claude-haiku-5-5" }),
      ],
    });
    const dir = await makeProject(manifest({ scope: false, extra: '\n[provider]\nfallback_model = "claude-haiku-5-5"\n' }));
    const r1 = await runPod(["run", "hi"], { cwd: dir, env: podEnv(server.url, { POD_MAX_RETRIES: "1" }) });
    expect(r1.code).toBe(0);
    expect(server.requests.map((q) => q.body.model)).toEqual(["claude-sonnet-5-5", "claude-sonnet-5-5", "claude-haiku-5-5"]);
    const fb = ofType(r1.events, "model_fallback");
    expect(fb).toHaveLength(1);
    expect(fb[0]).toMatchObject({ from: "claude-sonnet-5-5", to: "claude-haiku-5-5" });
    expect(fb[0].reason).toMatch(/529/);
    expect(ofType(r1.events, "text_done")[0].text).toBe("answered by the fallback");
    expect(r1.stdout).not.toContain(TEST_API_KEY);
  });
});

/** A service-account key file with a fresh RSA key; a non-Google universe makes google-auth-library sign its own JWT (no token endpoint). */
async function fakeServiceAccount(): Promise<string> {
  const { privateKey } = generateKeyPairSync("rsa", { modulusLength: 2048 });
  const dir = await mkdtemp(path.join(tmpdir(), "pod-gcp-"));
  const file = path.join(dir, "sa.json");
  await writeFile(
    file,
    JSON.stringify({
      type: "service_account",
      project_id: "fake-project",
      private_key_id: "fake-key-id",
      private_key: privateKey.export({ type: "pkcs8", format: "pem" }),
      client_email: "pod-test@fake-project.iam.gserviceaccount.com",
      client_id: "1234567890",
      token_uri: "http://127.0.0.1:9/token",
      universe_domain: "fake-universe.example",
    }),
  );
  return file;
}
