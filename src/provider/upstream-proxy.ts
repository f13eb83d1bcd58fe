import { isIP } from "node:net";
import { PodError } from "../errors.js";
import { hostEnv } from "../env-config.js";

/**
 * HTTPS_PROXY / HTTP_PROXY / ALL_PROXY / NO_PROXY, read exactly as curl reads them
 * (docs/reliability.md, "Proxies"), for the model's API and MCP url servers alike:
 *
 * - which variable: `https_proxy`, then `HTTPS_PROXY`, for https URLs; `http_proxy` for
 *   http URLs — lower case only, as curl (an upper-case HTTP_PROXY can be set by a CGI
 *   request's `Proxy:` header, "httpoxy"); then `all_proxy`, `ALL_PROXY` for either. An
 *   empty variable counts as unset.
 * - the proxy URL: without a scheme it is `http://` (`proxy.corp:3128`); without a port,
 *   1080 for an http proxy and 443 for an https one (curl's documented defaults). Only
 *   http:// and https:// proxies are spoken; socks ones are refused with a clear error.
 * - `no_proxy`, then `NO_PROXY` (noProxyMatches): curl's Curl_check_noproxy.
 *
 * The decision is pod's own (proxyFor); undici only carries the request: a proxy agent
 * when proxyFor names a proxy, a direct one when it does not, chosen per request. Without
 * any proxy variable nothing changes and undici is never loaded.
 */
export interface ProxyFetch {
  fetch: typeof globalThis.fetch;
  fetchOptions: { dispatcher: unknown };
  /** For diagnostics: the proxy in use, without any credentials in it. */
  describe: string;
}

const get = (env: NodeJS.ProcessEnv, name: string) => (env[name] ? env[name] : undefined);

/** The proxy variable curl would use for `url`, and its raw value; NO_PROXY not applied. */
export function proxyVariable(url: string, env: NodeJS.ProcessEnv = hostEnv()): { name: string; value: string } | undefined {
  const https = url.toLowerCase().startsWith("https:");
  const names = https ? ["https_proxy", "HTTPS_PROXY", "all_proxy", "ALL_PROXY"] : ["http_proxy", "all_proxy", "ALL_PROXY"];
  for (const name of names) {
    const value = get(env, name);
    if (value !== undefined) return { name, value };
  }
  return undefined;
}

/**
 * The proxy URL a request to `url` goes through, normalised (scheme and port explicit),
 * or undefined for a direct connection: no proxy variable, or NO_PROXY matches the host.
 * Throws a PodError naming the variable when its value cannot be a proxy.
 */
export function proxyFor(url: string, env: NodeJS.ProcessEnv = hostEnv()): string | undefined {
  const chosen = proxyVariable(url, env);
  if (!chosen) return undefined;
  const noProxy = get(env, "no_proxy") ?? get(env, "NO_PROXY");
  let host: string;
  try {
    host = new URL(url).hostname;
  } catch {
    return undefined;
  }
  if (noProxy !== undefined && noProxyMatches(host, noProxy)) return undefined;
  return normaliseProxy(chosen.value, chosen.name);
}

/** `proxy.corp:3128` → `http://proxy.corp:3128`; `http://p` → `http://p:1080`. */
export function normaliseProxy(raw: string, variable = "the proxy variable"): string {
  const text = raw.trim();
  const withScheme = text.includes("://") ? text : `http://${text}`;
  const scheme = withScheme.slice(0, withScheme.indexOf("://")).toLowerCase();
  const bad = (why: string, fix: string) => new PodError("invalid_input", `${variable}=${withoutAuth(text)}: ${why}`, fix);
  if (scheme !== "http" && scheme !== "https") {
    throw bad(`pod speaks to http:// and https:// proxies, not ${scheme}://`, `point ${variable} at an HTTP proxy (http://host:port), or unset it`);
  }
  let u: URL;
  try {
    u = new URL(withScheme);
  } catch {
    throw bad("not a proxy address", `write it as host:port or http://host:port (http://user:password@host:port with credentials)`);
  }
  if (!u.hostname) throw bad("no host in it", "write it as host:port or http://host:port");
  // Explicit, even when it is the scheme's default (the URL class would drop it).
  const port = explicitPort(withScheme) ?? (scheme === "https" ? "443" : "1080");
  return `${scheme}://${u.username ? `${u.username}${u.password ? `:${u.password}` : ""}@` : ""}${u.hostname}:${port}`;
}

/** The port the authority of `url` names (`host:3128`, `[::1]:3128`), if any. */
function explicitPort(url: string): string | undefined {
  const rest = url.slice(url.indexOf("://") + 3);
  const authority = rest.split(/[/?#]/, 1)[0]!;
  const hostPort = authority.slice(authority.lastIndexOf("@") + 1);
  const afterHost = hostPort.startsWith("[") ? hostPort.slice(hostPort.indexOf("]") + 1) : hostPort;
  return /:(\d+)$/.exec(afterHost)?.[1];
}

/**
 * curl's NO_PROXY rules (lib/noproxy.c, Curl_check_noproxy), for `host` as a URL gives
 * it (IPv6 in brackets, no port: the port of the URL never matters):
 * - `*` alone matches every host;
 * - entries are separated by commas; blanks around them are ignored, and an entry
 *   followed by blanks and no comma ends the list (as curl does);
 * - a name matches itself and every subdomain, with or without a leading dot
 *   (`example.com` and `.example.com` both match `example.com` and `www.example.com`,
 *   not `nonexample.com`); a trailing dot on either side is ignored; case-insensitive;
 * - for an IP address host, entries are IP addresses, exact, or CIDR ranges
 *   (`192.168.0.0/16`, `::1/64`); a name or a partial address (`10.`) never matches an
 *   IP, and an entry with a port (`host:8080`) never matches anything.
 */
export function noProxyMatches(host: string, noProxy: string): boolean {
  if (host === "") return false;
  if (noProxy === "") return false;
  if (noProxy === "*") return true;
  let name = host;
  let kind: 4 | 6 | "host" = "host";
  if (name.startsWith("[")) {
    const end = name.indexOf("]");
    if (end < 0) return false;
    name = name.slice(1, end);
    kind = 6;
  } else if (isIP(name) === 4) kind = 4;
  else if (name.endsWith(".")) name = name.slice(0, -1);

  for (const token of noProxyTokens(noProxy)) {
    if (kind === "host") {
      let t = token;
      if (t.endsWith(".")) t = t.slice(0, -1);
      if (t.startsWith(".")) t = t.slice(1);
      const n = name.toLowerCase();
      t = t.toLowerCase();
      if (t.length === n.length ? t === n : t.length < n.length && n.endsWith(t) && n[n.length - t.length - 1] === ".") return true;
    } else {
      const slash = token.indexOf("/");
      const address = slash < 0 ? token : token.slice(0, slash);
      const bits = slash < 0 ? 0 : parseInt(token.slice(slash + 1), 10) || 0;
      if (kind === 4 ? cidr4(name, address, bits) : cidr6(name, address, bits)) return true;
    }
  }
  return false;
}

/** curl's tokenizer: comma-separated; blanks skipped; blanks not followed by a comma end the list. */
function noProxyTokens(list: string): string[] {
  const out: string[] = [];
  let i = 0;
  const blank = (c: string | undefined) => c === " " || c === "\t";
  while (i < list.length) {
    while (blank(list[i])) i++;
    const start = i;
    while (i < list.length && !blank(list[i]) && list[i] !== ",") i++;
    if (i > start) out.push(list.slice(start, i));
    while (blank(list[i])) i++;
    if (list[i] !== ",") break;
    while (list[i] === ",") i++;
  }
  return out;
}

function v4(address: string): number | undefined {
  if (isIP(address) !== 4) return undefined;
  return address.split(".").reduce((n, part) => n * 256 + Number(part), 0);
}

/** Within `network/bits`; 0 bits (no slash) means the address exactly, as curl. */
function cidr4(address: string, network: string, bits: number): boolean {
  if (bits > 32) return false;
  const a = v4(address);
  const n = v4(network);
  if (a === undefined || n === undefined) return false;
  if (bits === 0 || bits === 32) return a === n;
  const mask = (0xffffffff << (32 - bits)) >>> 0;
  return ((a & mask) >>> 0) === ((n & mask) >>> 0);
}

function v6(address: string): number[] | undefined {
  if (isIP(address) !== 6) return undefined;
  let text = address;
  // An embedded IPv4 tail (::ffff:1.2.3.4) as two groups.
  const tail = /(\d+\.\d+\.\d+\.\d+)$/.exec(text);
  if (tail) {
    const n = v4(tail[1]!)!;
    text = text.slice(0, -tail[1]!.length) + `${(n >>> 16).toString(16)}:${(n & 0xffff).toString(16)}`;
  }
  const [head, rest] = text.includes("::") ? text.split("::") : [text, undefined];
  const a = head ? head.split(":") : [];
  const b = rest ? rest.split(":") : [];
  const groups = rest === undefined ? a : [...a, ...Array(8 - a.length - b.length).fill("0"), ...b];
  const bytes: number[] = [];
  for (const g of groups) {
    const v = parseInt(g, 16);
    bytes.push(v >> 8, v & 0xff);
  }
  return bytes.length === 16 ? bytes : undefined;
}

/** Within `network/bits`; 0 bits (no slash) means all 128, as curl. */
function cidr6(address: string, network: string, bits: number): boolean {
  const b = bits === 0 ? 128 : bits;
  if (b > 128) return false;
  const a = v6(address);
  const n = v6(network);
  if (!a || !n) return false;
  const whole = Math.floor(b / 8);
  for (let i = 0; i < whole; i++) if (a[i] !== n[i]) return false;
  const rest = b % 8;
  if (rest === 0) return true;
  const mask = (0xff << (8 - rest)) & 0xff;
  return (a[whole]! & mask) === (n[whole]! & mask);
}

/**
 * A fetch for the SDK (or an MCP url server) that follows these rules, or undefined when
 * no proxy variable applies to `baseUrl` (then no proxy code is loaded at all). Each
 * request decides again by its own URL, so a redirect to a NO_PROXY host goes direct.
 */
export async function proxyFetch(baseUrl: string, env: NodeJS.ProcessEnv = hostEnv()): Promise<ProxyFetch | undefined> {
  const proxy = proxyFor(baseUrl, env);
  if (!proxy) return undefined;
  const undici = await loadUndici();
  const direct = new undici.Agent();
  const agents = new Map<string, InstanceType<Undici["ProxyAgent"]>>();
  const agentFor = (uri: string) => {
    let a = agents.get(uri);
    if (!a) {
      // Plain-http targets are sent to the proxy as absolute URLs (as curl does); https ones through CONNECT.
      a = new undici.ProxyAgent({ uri, proxyTunnel: false });
      agents.set(uri, a);
    }
    return a;
  };
  class CurlRules extends undici.Dispatcher {
    override dispatch(opts: Parameters<InstanceType<Undici["Agent"]>["dispatch"]>[0], handler: Parameters<InstanceType<Undici["Agent"]>["dispatch"]>[1]): boolean {
      const via = proxyFor(String(opts.origin ?? baseUrl), env);
      return (via ? agentFor(via) : direct).dispatch(opts, handler);
    }
    override async close(): Promise<void> {
      await Promise.all([direct.close(), ...[...agents.values()].map((a) => a.close())]);
    }
    override async destroy(): Promise<void> {
      await Promise.all([direct.destroy(), ...[...agents.values()].map((a) => a.destroy())]);
    }
  }
  return {
    fetch: undici.fetch as unknown as typeof globalThis.fetch,
    fetchOptions: { dispatcher: new CurlRules() },
    describe: withoutAuth(proxy),
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

/** The proxy without credentials, for messages. */
export function withoutAuth(url: string): string {
  const m = /^([a-z][a-z0-9+.-]*:\/\/)?(?:[^@/?#]*@)?([^/?#]*)/i.exec(url.trim());
  return m ? `${(m[1] ?? "").toLowerCase()}${m[2]}` : "(unparsable URL)";
}
