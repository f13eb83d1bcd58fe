import { mkdtemp, rm } from "node:fs/promises";
import net from "node:net";
import { tmpdir } from "node:os";
import path from "node:path";

/**
 * The network allowlist (`network = ["registry.npmjs.org", …]`): an HTTP proxy pod
 * runs on a unix socket for the length of one call. The sandbox keeps its own
 * network namespace (no route out at all); the socket is bound into it, and a small
 * forwarder inside (FORWARDER below) listens on the sandbox's loopback and relays
 * each connection to the socket. HTTP_PROXY/HTTPS_PROXY point the command's tools at
 * it. The proxy admits `CONNECT host:port` (HTTPS, any port) and plain
 * `GET http://host/…` only for listed hosts; anything else gets a 403 saying why.
 * A command that ignores the proxy variables simply has no network.
 *
 * Host rule: a name matches itself case-insensitively; `*.example.com` matches
 * every subdomain of example.com (not example.com itself).
 */
export function hostAllowed(host: string, allow: readonly string[]): boolean {
  const h = host.toLowerCase().replace(/^\[|\]$/g, "").replace(/\.$/, "");
  return allow.some((a) => {
    const p = a.toLowerCase().replace(/\.$/, "");
    return p.startsWith("*.") ? h.endsWith(p.slice(1)) && h.length > p.length - 1 : h === p;
  });
}

export interface AllowlistProxy {
  /** The unix socket on the host, to be bound into the sandbox. */
  socket: string;
  close(): Promise<void>;
}

const MAX_HEAD = 64 * 1024;

export async function startProxy(allow: readonly string[]): Promise<AllowlistProxy> {
  const dir = await mkdtemp(path.join(tmpdir(), "pod-proxy-"));
  const socket = path.join(dir, "proxy.sock");
  const conns = new Set<net.Socket>();
  const server = net.createServer((client) => {
    conns.add(client);
    client.on("close", () => conns.delete(client));
    client.on("error", () => {});
    let head = Buffer.alloc(0);
    const onData = (d: Buffer) => {
      head = Buffer.concat([head, d]);
      const end = head.indexOf("\r\n\r\n");
      if (end < 0) {
        if (head.length > MAX_HEAD) client.destroy();
        return;
      }
      client.off("data", onData);
      client.pause();
      handle(client, head.subarray(0, end).toString("latin1"), head.subarray(end + 4));
    };
    client.on("data", onData);
  });
  const handle = (client: net.Socket, headText: string, rest: Buffer) => {
    const [requestLine, ...headers] = headText.split("\r\n");
    const m = /^(\S+) (\S+) HTTP\/1\.[01]$/.exec(requestLine ?? "");
    const deny = (status: string, why: string) => client.end(`HTTP/1.1 ${status}\r\nContent-Type: text/plain\r\nConnection: close\r\nContent-Length: ${Buffer.byteLength(why)}\r\n\r\n${why}`);
    if (!m) return deny("400 Bad Request", "pod proxy: not an HTTP proxy request\n");
    const [, method, target] = m as unknown as [string, string, string];
    let host: string;
    let port: number;
    let forwardHead: string | undefined;
    if (method === "CONNECT") {
      const hp = /^(\[[^\]]+\]|[^:]+):(\d+)$/.exec(target);
      if (!hp) return deny("400 Bad Request", "pod proxy: CONNECT needs host:port\n");
      host = hp[1]!;
      port = Number(hp[2]);
    } else {
      let url: URL;
      try {
        url = new URL(target);
      } catch {
        return deny("400 Bad Request", "pod proxy: a proxied request needs an absolute http:// URL\n");
      }
      if (url.protocol !== "http:") return deny("400 Bad Request", "pod proxy: only http:// URLs (use CONNECT for https)\n");
      host = url.hostname;
      port = Number(url.port || 80);
      // One request per connection, so a second request cannot go to another host on it.
      const kept = headers.filter((h) => !/^(proxy-connection|connection|keep-alive)\s*:/i.test(h));
      forwardHead = [`${method} ${url.pathname}${url.search} HTTP/1.1`, ...kept, "Connection: close", "", ""].join("\r\n");
    }
    if (!hostAllowed(host, allow)) {
      return deny("403 Forbidden", `pod proxy: ${host} is not in [tools.bash] network (allowed: ${allow.join(", ")})\n`);
    }
    const upstream = net.connect({ host: host.replace(/^\[|\]$/g, ""), port });
    conns.add(upstream);
    upstream.on("close", () => conns.delete(upstream));
    upstream.on("error", (err) => {
      if (!client.writableEnded) deny("502 Bad Gateway", `pod proxy: cannot reach ${host}:${port}: ${err.message}\n`);
      client.destroy();
    });
    upstream.on("connect", () => {
      if (forwardHead === undefined) client.write("HTTP/1.1 200 Connection Established\r\n\r\n");
      else upstream.write(forwardHead);
      if (rest.length) upstream.write(rest);
      client.pipe(upstream);
      upstream.pipe(client);
      client.resume();
    });
    client.on("close", () => upstream.destroy());
  };
  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen(socket, () => resolve());
  });
  server.unref();
  return {
    socket,
    close: async () => {
      for (const c of conns) c.destroy();
      await new Promise<void>((resolve) => server.close(() => resolve()));
      await rm(dir, { recursive: true, force: true });
    },
  };
}

/** Where the proxy's socket appears inside the sandbox, and the loopback port the forwarder listens on. */
export const SANDBOX_PROXY_SOCKET = "/tmp/.pod-proxy.sock";
export const SANDBOX_PROXY_PORT = 3128;

/**
 * Runs inside the sandbox as `node -e FORWARDER <socket> <port> <command…>`:
 * listens on 127.0.0.1:<port> (the sandbox's own loopback), relays each connection
 * to the unix socket, starts the command once listening, and exits with its status.
 */
export const FORWARDER = `
const net = require("net"), { spawn } = require("child_process");
const [sock, port, ...cmd] = process.argv.slice(1);
const server = net.createServer((c) => { const u = net.connect(sock); c.pipe(u); u.pipe(c); c.on("error", () => u.destroy()); u.on("error", () => c.destroy()); });
server.listen(Number(port), "127.0.0.1", () => {
  const child = spawn(cmd[0], cmd.slice(1), { stdio: "inherit" });
  child.on("error", (e) => { process.stderr.write(String(e) + "\\n"); process.exit(127); });
  child.on("exit", (code, sig) => process.exit(code ?? 128 + (require("os").constants.signals[sig] || 0)));
});
`;

export function proxyEnv(): Record<string, string> {
  const url = `http://127.0.0.1:${SANDBOX_PROXY_PORT}`;
  return { HTTP_PROXY: url, HTTPS_PROXY: url, http_proxy: url, https_proxy: url, NO_PROXY: "", no_proxy: "" };
}
