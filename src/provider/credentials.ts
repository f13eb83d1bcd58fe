import { PodError } from "../errors.js";
import { hostEnv } from "../env-config.js";

/** Which environment variable the credential came from: error messages name it (never its value). */
export type CredentialVariable = "ANTHROPIC_API_KEY" | "ANTHROPIC_AUTH_TOKEN";

export type Credential = { variable: "ANTHROPIC_API_KEY"; apiKey: string } | { variable: "ANTHROPIC_AUTH_TOKEN"; authToken: string };

/**
 * Reads the provider credential and checks it can be sent at all, before any request.
 * A key goes into an HTTP header, which carries visible ASCII only: a copied placeholder
 * with a Unicode ellipsis ("sk-ant-…") would otherwise fail deep in fetch as "Cannot
 * convert argument to a ByteString" and look like a transient provider fault. Surrounding
 * whitespace (a trailing newline from `$(cat keyfile)`) is trimmed; inner whitespace is an
 * error. Messages name the variable and where the problem is, never any character of the key.
 */
export function readCredential(env: NodeJS.ProcessEnv = hostEnv()): Credential {
  const variable = credentialVariable(env);
  const raw = env[variable];
  if (raw === undefined) {
    throw new PodError("invalid_credentials", "ANTHROPIC_API_KEY is not set", "export ANTHROPIC_API_KEY=<your key> (or ANTHROPIC_AUTH_TOKEN=<bearer token>) before `pod run`");
  }
  const value = raw.trim();
  const fix = `set ${variable} to the key exactly as the Anthropic console shows it (no quotes, spaces or placeholder text)`;
  if (value === "") throw new PodError("invalid_credentials", `${variable} is empty`, fix);
  for (let i = 0; i < value.length; i++) {
    const c = value.charCodeAt(i);
    if (c > 0x20 && c < 0x7f) continue;
    const what = c > 0x7f ? "a non-ASCII character (a placeholder such as \"…\" copied from the docs?)" : c === 0x20 || c === 0x09 ? "whitespace" : "a control character";
    throw new PodError("invalid_credentials", `${variable} contains ${what} at position ${i + 1} of ${value.length}, so it cannot be a valid key`, fix);
  }
  return variable === "ANTHROPIC_API_KEY" ? { variable, apiKey: value } : { variable, authToken: value };
}

/** The variable a request's credential came from, for the message of a 401/403. */
export function credentialVariable(env: NodeJS.ProcessEnv = hostEnv()): CredentialVariable {
  // The API key wins when both are set (as in the SDK); an empty API key next to a token
  // is a CI secret that expanded to nothing while the token is the one meant.
  if (env.ANTHROPIC_API_KEY?.trim()) return "ANTHROPIC_API_KEY";
  if (env.ANTHROPIC_AUTH_TOKEN !== undefined && (env.ANTHROPIC_AUTH_TOKEN.trim() || env.ANTHROPIC_API_KEY === undefined)) return "ANTHROPIC_AUTH_TOKEN";
  return "ANTHROPIC_API_KEY";
}

/** The API refused the credential (401) or its permissions (403): asking again cannot help. */
export function rejectedCredential(status: number, why: string, env: NodeJS.ProcessEnv = hostEnv()): PodError {
  const variable = credentialVariable(env);
  const hint =
    status === 401
      ? `check ${variable}: the key may be revoked, mistyped or for another provider; then \`pod run\` again`
      : `the key in ${variable} lacks access to this model or workspace; use a key that has it, then \`pod run\` again`;
  return new PodError("invalid_credentials", `the API rejected ${variable}: ${why}`, hint);
}
