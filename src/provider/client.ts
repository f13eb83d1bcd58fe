import { PodError } from "../errors.js";
import type { ManifestData } from "../manifest.js";
import { createModelClient, type ModelClient } from "./model.js";
import { bedrockModelId, vertexModelId } from "./model-ids.js";

export type ProviderConfig = ManifestData["provider"];

function readInt(value: string | undefined, fallback: number): number {
  const n = value === undefined ? NaN : Number(value);
  return Number.isFinite(n) && n >= 0 ? n : fallback;
}

/**
 * The model client for `[provider]`: the Anthropic API (createModelClient), or the
 * same models through Amazon Bedrock or Google Vertex AI with the official SDKs,
 * which take credentials from each cloud's standard places (AWS_* / AWS_PROFILE /
 * ~/.aws; GOOGLE_APPLICATION_CREDENTIALS / gcloud ADC). Each SDK is loaded only
 * when it is used.
 */
export async function createProviderClient(provider: ProviderConfig, env = process.env): Promise<ModelClient> {
  const common = { maxRetries: readInt(env.POD_MAX_RETRIES, 2), timeout: readInt(env.POD_REQUEST_TIMEOUT_MS, 10 * 60_000), logLevel: "off" as const };
  switch (provider.name) {
    case "anthropic":
      return createModelClient(env);
    case "bedrock": {
      const awsRegion = provider.region ?? env.AWS_REGION ?? env.AWS_DEFAULT_REGION;
      if (!awsRegion) throw new PodError("invalid_input", "Bedrock needs an AWS region", 'set [provider] region = "us-east-1" in pod.toml, or export AWS_REGION');
      const { AnthropicBedrock } = await cloudSdk("@anthropic-ai/bedrock-sdk", () => import("@anthropic-ai/bedrock-sdk"));
      // Credentials: AWS_BEARER_TOKEN_BEDROCK, or the AWS SDK's default chain (env, AWS_PROFILE, ~/.aws, instance roles).
      const client = new AnthropicBedrock({ awsRegion, ...common });
      return withModelIds(client as unknown as ModelClient, bedrockModelId);
    }
    case "vertex": {
      const region = provider.region ?? env.CLOUD_ML_REGION ?? env.GOOGLE_CLOUD_REGION;
      if (!region) throw new PodError("invalid_input", "Vertex AI needs a region", 'set [provider] region = "us-east5" (or "global") in pod.toml, or export CLOUD_ML_REGION');
      const projectId = provider.project_id ?? env.ANTHROPIC_VERTEX_PROJECT_ID ?? env.GOOGLE_CLOUD_PROJECT ?? null;
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
