import http from "node:http";
import https from "node:https";
import { Readable } from "node:stream";
import zlib from "node:zlib";
import { epochMs, TIMING, timing } from "../timing.js";

/**
 * The fetch the SDK uses when no proxy is set: node:http(s) with a keep-alive agent,
 * answering with a standard web Response whose body streams as it arrives.
 *
 * Why not the global fetch: per request, undici's fetch builds a Request, re-extracts
 * the body through a web stream (byteLength, TextEncoder, chunk copies) and runs its
 * spec machinery; the cpu profile of the per-turn bench put ~1.9 ms a turn in it
 * (bench/results.md, "Per-turn overhead"). Here the JSON body the SDK built is written
 * to the socket once.
 *
 * What the SDK relies on is kept: connection failures reject with a TypeError whose
 * `cause` carries the system error (code ECONNREFUSED, ENOTFOUND…, as undici's "fetch
 * failed"), an aborted signal aborts the request or the body stream, compressed bodies
 * are decoded. A body that is not a string (never sent by pod) goes to the global fetch.
 * With a proxy set, upstream-proxy.ts's undici fetch is used instead (EnvHttpProxyAgent).
 * `onSent`: called each time a request's body has been written (client.ts's ClientHooks).
 */
export function leanFetch(onSent?: () => void): typeof globalThis.fetch {
  const agents = { http: new http.Agent({ keepAlive: true }), https: new https.Agent({ keepAlive: true }) };
  // The body is encoded into one buffer kept across requests. Written as a string, it
  // was encoded into fresh memory each time: the history grows every turn, so each
  // body outgrew the last and malloc handed out new pages, whose faults cost ~12 us
  // per 4 KB page on this VM (~0.6 ms a turn at 200 KB, growing with the session).
  let scratch = Buffer.allocUnsafeSlow(64 * 1024);
  let holder: object | undefined;
  const encodeBody = (body: string): { bytes: Buffer; release: () => void } => {
    const n = Buffer.byteLength(body);
    if (holder) return { bytes: Buffer.from(body), release: () => {} }; // a request still writing (never in pod's sequential turns)
    if (scratch.length < n) scratch = Buffer.allocUnsafeSlow(Math.max(n, scratch.length * 2));
    scratch.write(body);
    const me = {};
    holder = me;
    return { bytes: scratch.subarray(0, n), release: () => void (holder === me && (holder = undefined)) };
  };
  const fetch = (input: string | URL | Request, init: RequestInit = {}): Promise<Response> => {
    if ((init.body != null && typeof init.body !== "string") || (typeof input !== "string" && !(input instanceof URL))) return globalThis.fetch(input, init);
    const url = typeof input === "string" ? new URL(input) : input;
    const secure = url.protocol === "https:";
    if (!secure && url.protocol !== "http:") return globalThis.fetch(input, init);
    const method = (init.method ?? "GET").toUpperCase();
    const headers: Record<string, string> = {};
    new Headers(init.headers).forEach((value, key) => (headers[key] = value));
    const encoded = init.body == null ? undefined : encodeBody(init.body);
    if (encoded) headers["content-length"] = String(encoded.bytes.length);
    headers["accept-encoding"] ??= "gzip, deflate, br";
    const signal = init.signal ?? undefined;
    return new Promise<Response>((resolve, reject) => {
      if (signal?.aborted) {
        encoded?.release();
        return reject(signal.reason);
      }
      const onAbort = () => req.destroy(signal!.reason instanceof Error ? signal!.reason : new DOMException("This operation was aborted", "AbortError"));
      const req = (secure ? https : http).request(url, { method, headers, agent: secure ? agents.https : agents.http }, (res) => {
        const status = res.statusCode ?? 0;
        const out = new Headers();
        for (let i = 0; i + 1 < res.rawHeaders.length; i += 2) out.append(res.rawHeaders[i]!, res.rawHeaders[i + 1]!);
        const noBody = method === "HEAD" || status === 204 || status === 205 || status === 304;
        if (noBody) {
          res.resume();
          signal?.removeEventListener("abort", onAbort);
          return resolve(new Response(null, { status, statusText: res.statusMessage ?? "", headers: out }));
        }
        // pod's own time between turns starts when a response has fully arrived and ends when the next request is handed to the socket.
        if (TIMING) res.once("end", () => timing({ http: "response_received", at: epochMs() }));
        const decoded = decode(res, out.get("content-encoding"));
        // The request's abort listener stays until the body ends: aborting mid-stream errors the body.
        res.once("close", () => signal?.removeEventListener("abort", onAbort));
        resolve(new Response(Readable.toWeb(decoded) as ReadableStream<Uint8Array>, { status, statusText: res.statusMessage ?? "", headers: out }));
      });
      signal?.addEventListener("abort", onAbort, { once: true });
      // The body's buffer is free again once the request is written (or has failed).
      req.once("finish", () => {
        encoded?.release();
        if (TIMING) timing({ http: "request_sent", at: epochMs() });
        onSent?.();
      });
      req.once("close", () => encoded?.release());
      req.on("error", (err) => {
        signal?.removeEventListener("abort", onAbort);
        // As undici's fetch: an abort rejects with the abort reason, anything else is "fetch failed" with the cause.
        reject(signal?.aborted ? signal.reason : new TypeError("fetch failed", { cause: err }));
      });
      req.end(encoded?.bytes);
    });
  };
  return fetch as typeof globalThis.fetch;
}

function decode(res: http.IncomingMessage, encoding: string | null): Readable {
  const e = encoding?.trim().toLowerCase();
  const decoder = e === "gzip" || e === "x-gzip" ? zlib.createGunzip() : e === "deflate" ? zlib.createInflate() : e === "br" ? zlib.createBrotliDecompress() : undefined;
  if (!decoder) return res;
  res.on("error", (err) => decoder.destroy(err));
  return res.pipe(decoder);
}
