/**
 * HTTPS_PROXY / HTTP_PROXY / NO_PROXY, honoured as curl honours them.
 *
 * The SDK talks through fetch, and Node 20's built-in fetch ignores proxy variables.
 * undici (the library behind Node's fetch, bundled into dist/ by esbuild, so it is a
 * devDependency) has EnvHttpProxyAgent, which applies exactly these rules: https URLs
 * go through HTTPS_PROXY (a CONNECT tunnel), http URLs through HTTP_PROXY, and NO_PROXY
 * (host names, domain suffixes, host:port, `*`) bypasses both. undici's own fetch is used
 * with it: Node 20's fetch carries an older undici whose dispatcher interface differs.
 * Without any proxy variable nothing changes and undici is never loaded.
 */
export interface ProxyFetch {
  fetch: typeof globalThis.fetch;
  fetchOptions: { dispatcher: unknown };
  /** For diagnostics: the proxy URLs in use, without any credentials in them. */
  describe: string;
}

/**
 * The proxy for requests to `baseUrl`, as curl picks it: HTTPS_PROXY for https URLs,
 * HTTP_PROXY for http URLs (no cross-over), ALL_PROXY for either; lower case first, then
 * upper case. NO_PROXY is applied per request by undici (same rules as curl).
 */
export function proxyFor(baseUrl: string, env: NodeJS.ProcessEnv = process.env): { proxy: string; noProxy: string } | undefined {
  const pick = (name: string) => env[name] || env[name.toUpperCase()] || undefined;
  const https = baseUrl.startsWith("https:");
  const proxy = (https ? pick("https_proxy") : pick("http_proxy")) ?? pick("all_proxy");
  return proxy ? { proxy, noProxy: pick("no_proxy") ?? "" } : undefined;
}

export async function proxyFetch(baseUrl: string, env: NodeJS.ProcessEnv = process.env): Promise<ProxyFetch | undefined> {
  const chosen = proxyFor(baseUrl, env);
  if (!chosen) return undefined;
  const undici = await loadUndici();
  const dispatcher = new undici.EnvHttpProxyAgent({
    // The one proxy for this base URL's scheme, explicitly, so undici reads no variable itself.
    httpProxy: chosen.proxy,
    httpsProxy: chosen.proxy,
    noProxy: chosen.noProxy,
    // Plain-http targets are sent to the proxy as absolute URLs (as curl does), not tunnelled.
    proxyTunnel: false,
  });
  return {
    fetch: undici.fetch as unknown as typeof globalThis.fetch,
    fetchOptions: { dispatcher },
    describe: withoutAuth(chosen.proxy),
  };
}

declare const __POD_BUNDLE__: boolean | undefined;
type Undici = typeof import("./undici-entry.js");

/** Built, undici is dist/undici.cjs, one level above the command bundles; from source, the package. */
async function loadUndici(): Promise<Undici> {
  if (typeof __POD_BUNDLE__ !== "undefined") {
    const { join } = await import("node:path");
    return require(join(__dirname, "..", "undici.cjs")) as Undici;
  }
  return import("./undici-entry.js");
}

function withoutAuth(url: string): string {
  try {
    const u = new URL(url);
    u.username = "";
    u.password = "";
    return u.origin;
  } catch {
    return "(unparsable URL)";
  }
}
