import { createHash } from "node:crypto";
import { gunzipSync, gzipSync } from "node:zlib";

/**
 * A hand-written ustar reader and writer for the import attack tests: it makes archives
 * `pod export` never would (links, devices, `..` and absolute names), independently of the
 * tar library pod itself uses.
 */
export interface TarEntry {
  name: string;
  /** ustar typeflag: "0" file, "1" hard link, "2" symlink, "3" char device, "5" directory. */
  type?: "0" | "1" | "2" | "3" | "5";
  data?: Buffer;
  linkname?: string;
}

function header(e: TarEntry): Buffer {
  const h = Buffer.alloc(512);
  const put = (s: string, at: number, len: number) => h.write(s.slice(0, len), at, len, "utf8");
  const oct = (n: number, at: number, len: number) => put(n.toString(8).padStart(len - 1, "0") + "\0", at, len);
  put(e.name, 0, 100);
  oct(e.type === "5" ? 0o755 : 0o644, 100, 8);
  oct(0, 108, 8);
  oct(0, 116, 8);
  oct(e.type === undefined || e.type === "0" ? (e.data?.length ?? 0) : 0, 124, 12);
  oct(1_700_000_000, 136, 12);
  h.fill(" ", 148, 156);
  put(e.type ?? "0", 156, 1);
  put(e.linkname ?? "", 157, 100);
  put("ustar\0", 257, 6);
  put("00", 263, 2);
  let sum = 0;
  for (const b of h) sum += b;
  put(sum.toString(8).padStart(6, "0") + "\0 ", 148, 8);
  return h;
}

export function makeTar(entries: readonly TarEntry[]): Buffer {
  const parts: Buffer[] = [];
  for (const e of entries) {
    parts.push(header(e));
    const data = e.type === undefined || e.type === "0" ? (e.data ?? Buffer.alloc(0)) : Buffer.alloc(0);
    parts.push(data, Buffer.alloc((512 - (data.length % 512)) % 512));
  }
  parts.push(Buffer.alloc(1024));
  return gzipSync(Buffer.concat(parts));
}

/** The regular files of a gzipped ustar archive (what `pod export` writes: short names, no pax). */
export function readTar(gz: Buffer): Map<string, Buffer> {
  const tar = gunzipSync(gz);
  const files = new Map<string, Buffer>();
  for (let at = 0; at + 512 <= tar.length; ) {
    const h = tar.subarray(at, at + 512);
    if (h.every((b) => b === 0)) break;
    const str = (from: number, len: number) => h.toString("utf8", from, from + len).replace(/\0.*$/s, "");
    const prefix = str(345, 155);
    const name = (prefix ? `${prefix}/` : "") + str(0, 100);
    const size = parseInt(str(124, 12).trim() || "0", 8);
    const type = str(156, 1) || "0";
    if (type === "0") files.set(name, tar.subarray(at + 512, at + 512 + size));
    at += 512 + Math.ceil(size / 512) * 512;
  }
  return files;
}

export const sha256 = (b: Buffer) => createHash("sha256").update(b).digest("hex");

/** bundle.json listing `files` with their real sizes and checksums (so a checksum is never what stops an attack). */
export function indexFor(pod: string, files: Map<string, Buffer> | [string, Buffer][]): Buffer {
  const list = Object.fromEntries([...files].map(([p, b]) => [p, { size: b.length, sha256: sha256(b) }]));
  return Buffer.from(JSON.stringify({ format: "pod-bundle", v: 1, pod, created_at: new Date().toISOString(), pod_version: "test", session: null, files: list }));
}
