/**
 * The variables whose values pod redacts when `[pod] secrets` is not set: the tokens CI
 * systems and package registries put in a job's environment. docs/manifest.md lists them;
 * keep the two in step. (GOOGLE_APPLICATION_CREDENTIALS is not here: it holds a path.)
 */
export const DEFAULT_SECRET_NAMES = [
  // GitHub Actions
  "GITHUB_TOKEN",
  "GH_TOKEN",
  "GH_ENTERPRISE_TOKEN",
  "ACTIONS_RUNTIME_TOKEN",
  "ACTIONS_ID_TOKEN_REQUEST_TOKEN",
  // GitLab CI
  "CI_JOB_TOKEN",
  "CI_JOB_JWT",
  "CI_JOB_JWT_V2",
  "CI_REGISTRY_PASSWORD",
  "CI_DEPLOY_PASSWORD",
  "GITLAB_TOKEN",
  // Other CI services
  "BUILDKITE_AGENT_ACCESS_TOKEN",
  "CIRCLE_TOKEN",
  "CODECOV_TOKEN",
  "SONAR_TOKEN",
  "SENTRY_AUTH_TOKEN",
  // Package registries
  "NPM_TOKEN",
  "NODE_AUTH_TOKEN",
  "YARN_NPM_AUTH_TOKEN",
  "PYPI_TOKEN",
  "TWINE_PASSWORD",
  "CARGO_REGISTRY_TOKEN",
  "GEM_HOST_API_KEY",
  "DOCKER_PASSWORD",
  "DOCKERHUB_TOKEN",
  // Clouds
  "AWS_SECRET_ACCESS_KEY",
  "AWS_SESSION_TOKEN",
  "AZURE_CLIENT_SECRET",
  "ARM_CLIENT_SECRET",
  "CLOUDFLARE_API_TOKEN",
  "DIGITALOCEAN_ACCESS_TOKEN",
  "HEROKU_API_KEY",
  "NETLIFY_AUTH_TOKEN",
  "VERCEL_TOKEN",
  "VAULT_TOKEN",
  // Chat and other APIs
  "SLACK_BOT_TOKEN",
  "SLACK_WEBHOOK_URL",
  "OPENAI_API_KEY",
] as const;

/**
 * The provider's credentials: always redacted, whatever `[pod] secrets` says. The
 * Anthropic API key or bearer token, Bedrock's (AWS keys, a Bedrock API key) and Vertex's
 * (a gcloud access token given in the environment).
 */
export const PROVIDER_SECRET_NAMES = [
  "ANTHROPIC_API_KEY",
  "ANTHROPIC_AUTH_TOKEN",
  "AWS_SECRET_ACCESS_KEY",
  "AWS_SESSION_TOKEN",
  "AWS_BEARER_TOKEN_BEDROCK",
  "CLOUDSDK_AUTH_ACCESS_TOKEN",
  "GOOGLE_OAUTH_ACCESS_TOKEN",
] as const;
