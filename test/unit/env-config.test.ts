import { describe, expect, it } from "vitest";
import { DEFAULT_MAX_RETRIES, podEnv } from "../../src/env-config.js";
import { networkPolicy } from "../../src/provider/retry.js";
import { resolveRuntimeDir } from "../../src/store/paths.js";

describe("configuration from the environment (docs/environment.md)", () => {
  it("has one default for each variable, whoever reads it", () => {
    const e = podEnv({});
    expect(e).toEqual({
      runtimeDir: undefined,
      baseUrl: "https://api.anthropic.com",
      requestTimeoutMs: 30_000,
      streamIdleTimeoutMs: 60_000,
      maxRetries: 4,
      retryBaseMs: 1000,
      retryAfterMaxMs: 60_000,
      retryTotalMs: 120_000,
      heartbeatMs: 15_000,
      contextWindow: undefined,
      awsRegion: undefined,
      vertexRegion: undefined,
      vertexProjectId: undefined,
      bwrap: "bwrap",
      fetchGlobal: false,
      timing: false,
      validateEvents: false,
    });
    // POD_MAX_RETRIES once had 4 for turns and 2 for the SDK's retries of compaction: one now.
    expect(DEFAULT_MAX_RETRIES).toBe(4);
    expect(networkPolicy({}).maxRetries).toBe(DEFAULT_MAX_RETRIES);
  });

  it("reads each variable, the old retry name, and ignores values that are not numbers", () => {
    const e = podEnv({
      POD_RUNTIME_DIR: "/tmp/rt",
      ANTHROPIC_BASE_URL: " http://127.0.0.1:9 ",
      POD_REQUEST_TIMEOUT_MS: "1200",
      POD_MAX_RETRIES: "0",
      POD_HEARTBEAT_MS: "soon",
      POD_RETRY_BASE_MS: "-5",
      POD_CONTEXT_WINDOW: "50000",
      POD_BWRAP: "/opt/bwrap",
      POD_TIMING: "1",
      POD_VALIDATE_EVENTS: "yes",
    });
    expect(e).toMatchObject({ runtimeDir: "/tmp/rt", baseUrl: "http://127.0.0.1:9", requestTimeoutMs: 1200, maxRetries: 0, heartbeatMs: 15_000, retryBaseMs: 1000, contextWindow: 50_000, bwrap: "/opt/bwrap", timing: true, validateEvents: false });
    expect(podEnv({ POD_STREAM_RETRIES: "7" }).maxRetries).toBe(7);
    expect(podEnv({ POD_STREAM_RETRIES: "7", POD_MAX_RETRIES: "1" }).maxRetries).toBe(1);
    expect(podEnv({ POD_RUNTIME_DIR: "", POD_BWRAP: "" })).toMatchObject({ runtimeDir: undefined, bwrap: "bwrap" });
    expect(resolveRuntimeDir(undefined, "/w/pod.toml", { POD_RUNTIME_DIR: "/tmp/rt" })).toBe("/tmp/rt");
    expect(resolveRuntimeDir(undefined, "/w/pod.toml", {})).toBe("/w/.pod");
    expect(podEnv({ AWS_DEFAULT_REGION: "eu-west-1" }).awsRegion).toBe("eu-west-1");
    expect(podEnv({ AWS_DEFAULT_REGION: "eu-west-1", AWS_REGION: "us-east-1" }).awsRegion).toBe("us-east-1");
    expect(podEnv({ GOOGLE_CLOUD_REGION: "global", GOOGLE_CLOUD_PROJECT: "p" })).toMatchObject({ vertexRegion: "global", vertexProjectId: "p" });
  });
});
