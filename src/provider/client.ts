import type Anthropic from "@anthropic-ai/sdk";
import { PodError } from "../errors.js";
import type { ManifestData } from "../manifest.js";
import { readCredential } from "./credentials.js";
import { leanFetch } from "./lean-fetch.js";
import { bedrockModelId, vertexModelId } from "./model-ids.js";
import { proxyFetch } from "./upstream-proxy.js";
import { hostEnv, podEnv } from "../env-config.js";

export type ModelClient = Anthropic;
export type ProviderConfig = ManifestData["provider"];

export interface ClientHooks {
  /**
   * A request has been handed to the network: the model is thinking, and work pod does in
   * the background (the scope's snapshot, src/changes/) no longer delays the request.
   * Exact with pod's own fetch (when the body is written); with the others, just after
   * fetch was called.
   */
  onRequestSent?: (() => void) | undefined;
}

type Fetch = typeof globalThis.fetch;

/** `fetch`, telling `onSent` once each request is on its way. */
function announced(fetch: Fetch, onSent: (() => void) | undefined): Fetch {
  if (!onSent) return fetch;
  return (input, init) => {
    const response = fetch(input, init);
    setImmediate(onSent);
    return response;
  };
}

/**
 * Creates the SDK client. The SDK is imported here, not at the top of the module,
 * so commands that never call the model (status, history, --version) start fast.
 * The key comes from ANTHROPIC_API_KEY (or ANTHROPIC_AUTH_TOKEN, sent as a bearer token),
 * checked before any request (credentials.ts); the base URL from ANTHROPIC_BASE_URL
 * (src/env-config.ts); a proxy from HTTPS_PROXY/HTTP_PROXY/NO_PROXY (upstream-proxy.ts).
 */
export async function createModelClient(env = hostEnv(), hooks: ClientHooks = {}): Promise<ModelClient> {
  const credential = readCredential(env);
  const { default: AnthropicClient } = await import("@anthropic-ai/sdk");
  const settings = podEnv(env);
  const baseURL = settings.baseUrl;
  const proxied = await proxyFetch(baseURL, env);
  return new AnthropicClient({
    // Exactly one credential; null stops the SDK reading the other variable itself.
    ...("apiKey" in credential ? { apiKey: credential.apiKey, authToken: null } : { authToken: credential.authToken, apiKey: null }),
    baseURL,
    // Turns do their own, visible retries (src/runtime/turn-retries.ts); these apply to compaction's requests.
    maxRetries: settings.maxRetries,
    // Non-streamed requests (compaction's summary) answer only when done, so this is long;
    // a turn's stream has its own first-byte and idle limits (turn.ts).
    timeout: SDK_TIMEOUT_MS,
    logLevel: "off",
    // Without a proxy, node:http (lean-fetch.ts), cheaper per request than the global fetch;
    // POD_FETCH_GLOBAL=1 goes back to the global fetch (an escape hatch, and the bench's baseline).
    ...(proxied ? { fetch: announced(proxied.fetch, hooks.onRequestSent), fetchOptions: proxied.fetchOptions as Record<string, unknown> } : settings.fetchGlobal ? { fetch: announced(globalThis.fetch, hooks.onRequestSent) } : { fetch: leanFetch(hooks.onRequestSent) }),
  });
}

/**
 * The SDK's own timeout, for requests that are not a turn's stream (compaction's summary
 * answers only when done, so this is long); a turn's stream has its own first-byte and
 * idle limits (turn.ts, POD_REQUEST_TIMEOUT_MS and POD_STREAM_IDLE_TIMEOUT_MS).
 */
const SDK_TIMEOUT_MS = 10 * 60_000;

/**
 * The model client for `[provider]`: the Anthropic API (createModelClient), or the
 * same models through Amazon Bedrock or Google Vertex AI with the official SDKs,
 * which take credentials from each cloud's standard places (AWS_* / AWS_PROFILE /
 * ~/.aws; GOOGLE_APPLICATION_CREDENTIALS / gcloud ADC). Each SDK is loaded only
 * when it is used.
 */
export async function createProviderClient(provider: ProviderConfig, env = hostEnv(), hooks: ClientHooks = {}): Promise<ModelClient> {
  // As createModelClient: the SDK retries only compaction's request (turns retry visibly, run-loop.ts).
  const common = { maxRetries: podEnv(env).maxRetries, timeout: SDK_TIMEOUT_MS, logLevel: "off" as const, ...(hooks.onRequestSent ? { fetch: announced(globalThis.fetch, hooks.onRequestSent) } : {}) };
  switch (provider.name) {
    case "anthropic":
      return createModelClient(env, hooks);
    case "bedrock": {
      const awsRegion = provider.region ?? podEnv(env).awsRegion;
      if (!awsRegion) throw new PodError("invalid_input", "Bedrock needs an AWS region", 'set [provider] region = "us-east-1" in pod.toml, or export AWS_REGION');
      const { AnthropicBedrock } = await cloudSdk("@anthropic-ai/bedrock-sdk", () => import("@anthropic-ai/bedrock-sdk"));
      // Credentials: AWS_BEARER_TOKEN_BEDROCK, or the AWS SDK's default chain (env, AWS_PROFILE, ~/.aws, instance roles).
      const client = new AnthropicBedrock({ awsRegion, ...common });
      return withModelIds(client as unknown as ModelClient, bedrockModelId);
    }
    case "vertex": {
      const region = provider.region ?? podEnv(env).vertexRegion;
      if (!region) throw new PodError("invalid_input", "Vertex AI needs a region", 'set [provider] region = "us-east5" (or "global") in pod.toml, or export CLOUD_ML_REGION');
      const projectId = provider.project_id ?? podEnv(env).vertexProjectId ?? null;
      const { AnthropicVertex } = await cloudSdk("@anthropic-ai/vertex-sdk", () => import("@anthropic-ai/vertex-sdk"));
      // Credentials: Application Default Credentials (GOOGLE_APPLICATION_CREDENTIALS, gcloud auth, metadata server).
      const client = new AnthropicVertex({ region, projectId, ...common });
      return withModelIds(client as unknown as ModelClient, vertexModelId);
    }
  }
}

/**
 * The cloud SDKs are optional peer dependencies of the package, not part of its bundles
 * (they would double its size for the few who use them) and not installed with it (as
 * optionalDependencies they made every global install 118 MB / 180 packages): a pod that
 * names a provider whose SDK is missing is told the exact command that adds it.
 * The versions are package.json's peerDependencies (test/e2e/package.test.ts checks).
 */
export const CLOUD_SDKS = { "@anthropic-ai/bedrock-sdk": "^1.1.3", "@anthropic-ai/vertex-sdk": "^1.1.3" } as const;

async function cloudSdk<T>(name: keyof typeof CLOUD_SDKS, load: () => Promise<T>): Promise<T> {
  try {
    return await load();
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    if (code !== "MODULE_NOT_FOUND" && code !== "ERR_MODULE_NOT_FOUND") throw err;
    const spec = `${name}@${CLOUD_SDKS[name]}`;
    throw new PodError(
      "invalid_input",
      `[provider] needs ${name}, which is not installed (pod installs the cloud SDKs only on demand)`,
      `install it where pod is installed: \`npm install -g "${spec}"\` for a global pod (add the same --prefix you installed pod with), or \`npm install "${spec}"\` in the project that has pod`,
    );
  }
}

/**
 * The client with each request's model id translated for the provider; the rest of
 * pod (pricing, events, the session) keeps using pod's own model names.
 */
function withModelIds(client: ModelClient, map: (model: string) => string): ModelClient {
  const messages = client.messages;
  const mapped = new Proxy(messages, {
    get(target, prop) {
      const value = Reflect.get(target, prop, target) as unknown;
      if (typeof value !== "function") return value;
      if (prop === "stream" || prop === "create" || prop === "countTokens") {
        return (params: { model: string }, options?: unknown) => (value as (p: unknown, o?: unknown) => unknown).call(target, { ...params, model: map(params.model) }, options);
      }
      return (value as (...a: unknown[]) => unknown).bind(target);
    },
  });
  return new Proxy(client, { get: (target, prop) => (prop === "messages" ? mapped : Reflect.get(target, prop, target)) });
}
