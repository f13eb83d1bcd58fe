import { existsSync, readdirSync } from "node:fs";
import { mkdtemp, readFile, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import path from "node:path";
import { gunzipSync, gzipSync } from "node:zlib";
import { describe, expect, it } from "vitest";
import { startFakeServer } from "../fake-server/server.js";
import { makeProject, manifest, ofType, podEnv, runPod } from "../helpers/pod-process.js";
import { indexFor, makeTar, readTar, type TarEntry } from "../helpers/tar-bundle.js";

/**
 * `pod import` reads a file that came from elsewhere (an artifact store, another machine):
 * hostile or damaged, it must never write outside the runtime directory, never follow or
 * make a link, and never leave anything behind. Each bundle here is crafted by hand
 * (test/helpers/tar-bundle.ts) with a bundle.json whose checksums are right, so only the
 * guard under test can stop it.
 */
const usage = { input_tokens: 10, output_tokens: 5, cache_read_input_tokens: 0, cache_creation_input_tokens: 0 };
const OFFLINE = { ANTHROPIC_API_KEY: undefined, ANTHROPIC_BASE_URL: "http://127.0.0.1:9" };

/** A real bundle's files, from `pod export` of a pod that ran once. */
async function realBundle(): Promise<{ files: Map<string, Buffer>; gz: Buffer; sessionPath: string }> {
  const server = await startFakeServer({ turns: [{ response: { content: [{ type: "text", text: "hi" }], stop_reason: "end_turn", usage } }] });
  const dir = await makeProject(manifest());
  expect((await runPod(["run", "hello"], { cwd: dir, env: podEnv(server.url) })).code).toBe(0);
  await server.close();
  const out = path.join(dir, "b.tar.gz");
  expect((await runPod(["export", "-o", out], { cwd: dir, env: podEnv(undefined, OFFLINE) })).code).toBe(0);
  const gz = await readFile(out);
  const files = readTar(gz);
  files.delete("bundle.json");
  return { files, gz, sessionPath: [...files.keys()].find((p) => p.startsWith("pod/sessions/"))! };
}

/** A fresh project to import into, inside a directory of its own (so a file landing beside it shows). */
async function target(): Promise<{ dir: string; outside: string }> {
  const outside = await mkdtemp(path.join(tmpdir(), "pod-import-attack-"));
  const dir = path.join(outside, "project");
  const { mkdir } = await import("node:fs/promises");
  await mkdir(dir);
  await writeFile(path.join(dir, "pod.toml"), manifest());
  return { dir, outside };
}

async function importInto(dir: string, bundle: Buffer) {
  const file = path.join(path.dirname(dir), "bundle.tar.gz");
  await writeFile(file, bundle);
  return runPod(["import", file], { cwd: dir, env: podEnv(undefined, OFFLINE) });
}

/** Refused with a usage error naming the problem, and nothing written: no pod dir, no staging dir, nothing beside. */
async function expectRefused(r: Awaited<ReturnType<typeof importInto>>, t: { dir: string; outside: string }, says: string | RegExp) {
  expect(r.code, r.stdout + r.stderr).toBe(2);
  const err = ofType(r.events, "error");
  expect(err).toHaveLength(1);
  expect(err[0].code).toBe("invalid_input");
  expect(err[0].message).toMatch(says);
  expect(err[0].message).toContain("nothing was written");
  // Not even the runtime directory (the import would have made it).
  expect(existsSync(path.join(t.dir, ".pod")), "the runtime directory was created").toBe(false);
  expect(readdirSync(t.outside).sort()).toEqual(["bundle.tar.gz", "project"]);
  expect(readdirSync(t.dir)).toEqual(["pod.toml"]);
}

const withEntries = (files: Map<string, Buffer>, extra: TarEntry[], listed: [string, Buffer][] = []) =>
  makeTar([{ name: "bundle.json", data: indexFor("tester", [...files, ...listed]) }, ...[...files].map(([name, data]) => ({ name, data })), ...extra]);

describe("pod import of a hostile or damaged bundle", () => {
  it("refuses an entry whose name climbs out with .. (even listed with its right checksum)", async () => {
    const { files } = await realBundle();
    const t = await target();
    const evil = Buffer.from("planted\n");
    for (const name of ["../evil.txt", "pod/../../evil.txt", "pod/sessions/../../../evil.txt"]) {
      const r = await importInto(t.dir, withEntries(files, [{ name, data: evil }], [[name, evil]]));
      await expectRefused(r, t, /would land outside the runtime directory|not a file of a pod/);
    }
    expect(existsSync(path.join(t.outside, "evil.txt"))).toBe(false);
    expect(existsSync(path.join(t.dir, "evil.txt"))).toBe(false);
  });

  it("refuses an absolute entry name", async () => {
    const { files } = await realBundle();
    const t = await target();
    const name = path.join(t.outside, "evil.txt");
    const r = await importInto(t.dir, withEntries(files, [{ name, data: Buffer.from("x") }], [[name, Buffer.from("x")]]));
    await expectRefused(r, t, /an absolute path/);
    expect(existsSync(name)).toBe(false);
  });

  it("refuses a symlink entry, a hard link entry and a device entry, and never follows one", async () => {
    const { files, sessionPath } = await realBundle();
    const t = await target();
    const secret = path.join(await mkdtemp(path.join(tmpdir(), "pod-operator-")), "secret.txt");
    await writeFile(secret, "operator's secret\n");
    const rest = new Map(files);
    rest.delete(sessionPath);
    for (const e of [
      { name: sessionPath, type: "2" as const, linkname: secret },
      { name: sessionPath, type: "1" as const, linkname: "pod/status.json" },
      { name: "pod/status.json.dev", type: "3" as const },
    ]) {
      const r = await importInto(t.dir, withEntries(rest, [e]));
      await expectRefused(r, t, /(SymbolicLink|Link|CharacterDevice) entry/);
    }
    expect(await readFile(secret, "utf8")).toBe("operator's secret\n");
  });

  it("a corrupt bundle (bytes flipped in the middle) leaves nothing behind", async () => {
    const { gz } = await realBundle();
    const t = await target();
    const bad = Buffer.from(gz);
    for (let i = Math.floor(bad.length / 2); i < Math.floor(bad.length / 2) + 16; i++) bad[i] = bad[i]! ^ 0xff;
    await expectRefused(await importInto(t.dir, bad), t, /damaged or not a pod bundle/);
  });

  it("a truncated bundle (an upload cut short) leaves nothing behind", async () => {
    const { gz } = await realBundle();
    const t = await target();
    for (const keep of [0.5, 0.9, 0.99]) await expectRefused(await importInto(t.dir, gz.subarray(0, Math.floor(gz.length * keep))), t, /damaged or not a pod bundle/);
    // Whole gzip, cut archive inside: the end-of-archive blocks are missing, or the last file is short.
    const tar = gunzipSync(gz);
    await expectRefused(await importInto(t.dir, gzipSync(tar.subarray(0, tar.length - 1024))), t, /cut short/);
    await expectRefused(await importInto(t.dir, gzipSync(tar.subarray(0, 512 * 3 + 100))), t, /cut short/);
  });

  it("a file whose content does not match its checksum, or a file bundle.json does not list, is refused", async () => {
    const { files, sessionPath } = await realBundle();
    const t = await target();
    const index = indexFor("tester", files);
    const tampered = new Map(files);
    tampered.set(sessionPath, Buffer.concat([files.get(sessionPath)!, Buffer.from('{"kind":"message","turn":1,"ts":"2026-01-01T00:00:00Z","message":{"role":"user","content":[{"type":"text","text":"injected"}]}}\n')]));
    await expectRefused(await importInto(t.dir, makeTar([{ name: "bundle.json", data: index }, ...[...tampered].map(([name, data]) => ({ name, data }))])), t, /does not match its checksum/);
    const extra = "pod/sessions/20260101T000000Z-abcdef.jsonl";
    await expectRefused(await importInto(t.dir, makeTar([{ name: "bundle.json", data: index }, ...[...files].map(([name, data]) => ({ name, data })), { name: extra, data: Buffer.from("{}\n") }])), t, /does not list/);
  });

  it("a session or status.json that does not load is refused after staging, and the staging is gone", async () => {
    const { files, sessionPath } = await realBundle();
    const t = await target();
    const broken = new Map(files);
    broken.set(sessionPath, Buffer.concat([files.get(sessionPath)!, Buffer.from("{not a record}\n")]));
    await expectRefused(await importInto(t.dir, makeTar([{ name: "bundle.json", data: indexFor("tester", broken) }, ...[...broken].map(([name, data]) => ({ name, data }))])), t, /session .* is damaged at line/);
    const status = new Map(files);
    status.set("pod/status.json", Buffer.from('{"pod":"tester","session_id":"../../../etc/passwd"}'));
    await expectRefused(await importInto(t.dir, makeTar([{ name: "bundle.json", data: indexFor("tester", status) }, ...[...status].map(([name, data]) => ({ name, data }))])), t, /status\.json/);
  });

  it("the untouched bundle imports (the checks above refuse the attack, not every bundle)", async () => {
    const { gz } = await realBundle();
    const t = await target();
    const r = await importInto(t.dir, gz);
    expect(r.code, r.stdout).toBe(0);
    expect(existsSync(path.join(t.dir, ".pod/tester/status.json"))).toBe(true);
  });
});
