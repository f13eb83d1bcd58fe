import { appendFile, mkdtemp, readdir, readFile, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import path from "node:path";
import { describe, expect, it } from "vitest";
import { textMessage } from "../../src/conversation/messages.js";
import { SessionStore, sessionFile } from "../../src/store/session-store.js";

async function tempSessions() {
  return path.join(await mkdtemp(path.join(tmpdir(), "pod-store-")), "sessions");
}

describe("SessionStore", () => {
  it("appends messages as one line each and reads them back", async () => {
    const dir = await tempSessions();
    const store = await SessionStore.create(dir);
    await store.append(textMessage("user", "one"), 0);
    await store.append(textMessage("assistant", "two"), 1);
    await store.close();
    const text = await readFile(sessionFile(dir, store.id), "utf8");
    expect(text.trimEnd().split("\n")).toHaveLength(3);
    const again = await SessionStore.openReadOnly(dir, store.id);
    expect(again.messages()).toEqual([textMessage("user", "one"), textMessage("assistant", "two")]);
    expect(again.allMessages().map((m) => m.turn)).toEqual([0, 1]);
  });

  it("ignores a torn last line when reading, and backs it up before cutting it off for appending", async () => {
    const dir = await tempSessions();
    const store = await SessionStore.create(dir);
    await store.append(textMessage("user", "kept"), 0);
    await store.close();
    const file = sessionFile(dir, store.id);
    await appendFile(file, '{"kind":"message","turn":1,"ts":"x","message":{"role":"assi');
    expect((await SessionStore.openReadOnly(dir, store.id)).messages()).toEqual([textMessage("user", "kept")]);

    const writable = await SessionStore.openForAppend(dir, store.id);
    await writable.append(textMessage("assistant", "after"), 1);
    await writable.close();
    expect((await SessionStore.openReadOnly(dir, store.id)).messages()).toEqual([textMessage("user", "kept"), textMessage("assistant", "after")]);
    const backups = (await readdir(dir)).filter((n) => n.includes(".torn-"));
    expect(backups).toHaveLength(1);
    expect(await readFile(path.join(dir, backups[0]!), "utf8")).toContain('"role":"assi');
  });

  it("refuses a damaged line in the middle, naming the file and line, without changing it", async () => {
    const dir = await tempSessions();
    const store = await SessionStore.create(dir);
    await store.append(textMessage("user", "one"), 0);
    await store.close();
    const file = sessionFile(dir, store.id);
    await appendFile(file, "garbage\n" + JSON.stringify({ kind: "message", turn: 1, ts: "t", message: textMessage("assistant", "x") }) + "\n");
    const before = await readFile(file, "utf8");
    await expect(SessionStore.openForAppend(dir, store.id)).rejects.toThrow(new RegExp(`${store.id}\\.jsonl is damaged at line 3`));
    expect(await readFile(file, "utf8")).toBe(before);
  });

  it("applies the last compaction to the model's view but keeps every message", async () => {
    const dir = await tempSessions();
    const store = await SessionStore.create(dir);
    for (let i = 0; i < 4; i++) await store.append(textMessage(i % 2 ? "assistant" : "user", `m${i}`), i);
    await store.appendCompaction({ keep_from: 2, summary: "Summary of m0 and m1", tokens_before: 100, tokens_after: 20 });
    await store.close();
    const again = await SessionStore.openReadOnly(dir, store.id);
    expect(again.messages()).toEqual([textMessage("user", "Summary of m0 and m1"), textMessage("user", "m2"), textMessage("assistant", "m3")]);
    expect(again.allMessages()).toHaveLength(4);
  });

  it("lists sessions oldest first", async () => {
    const dir = await tempSessions();
    const a = await SessionStore.create(dir, "20260101T000000Z-aaaaaa");
    const b = await SessionStore.create(dir, "20260102T000000Z-bbbbbb");
    await b.append(textMessage("user", "x"), 0);
    await Promise.all([a.close(), b.close()]);
    await writeFile(path.join(dir, "notes.txt"), "not a session");
    expect((await SessionStore.list(dir)).map((s) => [s.id, s.messages])).toEqual([
      ["20260101T000000Z-aaaaaa", 0],
      ["20260102T000000Z-bbbbbb", 1],
    ]);
  });

  it("writes with O_APPEND: a line another process appended is never overwritten (new and reopened sessions)", async () => {
    const dir = await tempSessions();
    const other = (id: string, text: string) => JSON.stringify({ kind: "message", turn: 9, ts: "t", message: textMessage("user", text) }) + "\n";
    // A freshly created session: its handle's own file position is right after the header.
    const fresh = await SessionStore.create(dir);
    await appendFile(sessionFile(dir, fresh.id), other(fresh.id, "written by another process"));
    await fresh.append(textMessage("assistant", "mine"), 1);
    await fresh.close();
    expect((await SessionStore.openReadOnly(dir, fresh.id)).messages()).toEqual([textMessage("user", "written by another process"), textMessage("assistant", "mine")]);

    // A reopened session, the same.
    const again = await SessionStore.openForAppend(dir, fresh.id);
    await appendFile(sessionFile(dir, fresh.id), other(fresh.id, "another one"));
    await again.append(textMessage("assistant", "mine too"), 2);
    await again.close();
    const texts = (await SessionStore.openReadOnly(dir, fresh.id)).messages().map((m) => (m.content[0] as { text: string }).text);
    expect(texts).toEqual(["written by another process", "mine", "another one", "mine too"]);
  });

  it("refuses a session id that is not one (it becomes a path: ../../x is never followed)", async () => {
    const dir = await tempSessions();
    for (const id of ["../../x", "/etc/passwd", "20260101T000000Z-aaaaaa/../../x", "", "x".repeat(300)]) {
      expect(() => sessionFile(dir, id)).toThrow(/is not a session id/);
      await expect(SessionStore.openReadOnly(dir, id)).rejects.toMatchObject({ code: "not_found" });
      await expect(SessionStore.openForAppend(dir, id)).rejects.toMatchObject({ code: "not_found" });
    }
  });

  it("lists only files named like sessions, ids taken from the name", async () => {
    const dir = await tempSessions();
    const a = await SessionStore.create(dir, "20260101T000000Z-aaaaaa");
    await a.close();
    await writeFile(path.join(dir, "evil.jsonl"), JSON.stringify({ kind: "session", id: "../../x", created_at: "t" }) + "\n");
    expect((await SessionStore.list(dir)).map((s) => s.id)).toEqual(["20260101T000000Z-aaaaaa"]);
  });

  it("stops writing when its guard says so (the pod lock was lost)", async () => {
    const dir = await tempSessions();
    let held = true;
    const store = await SessionStore.create(dir, undefined, {
      beforeWrite: () => {
        if (!held) throw new Error("lock lost");
      },
    });
    await store.append(textMessage("user", "kept"), 0);
    held = false;
    await expect(store.append(textMessage("assistant", "not written"), 1)).rejects.toThrow(/lock lost/);
    await store.close();
    expect((await SessionStore.openReadOnly(dir, store.id)).messages()).toEqual([textMessage("user", "kept")]);
  });
});
