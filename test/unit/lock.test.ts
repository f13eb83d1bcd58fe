import { spawn } from "node:child_process";
import { mkdir, mkdtemp, readFile, utimes, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import path from "node:path";
import { afterEach, describe, expect, it, vi } from "vitest";
import { acquirePodLock, DEAD_OWNER_STALE_MS, deadOwnerStaleMs, REMOTE_STALE_MS } from "../../src/store/lock.js";
import { formatIdentity, identityOf, ownerState, parseIdentity } from "../../src/store/process-alive.js";

// The lock waits only through timers/promises' setTimeout: counted here (still the real
// sleep), so "refused at once" is a count of waits, not a wall-clock bound.
const sleeps = vi.hoisted(() => ({ fn: undefined as unknown as ReturnType<typeof vi.fn> }));
vi.mock("node:timers/promises", async (importOriginal) => {
  const real = await importOriginal<typeof import("node:timers/promises")>();
  sleeps.fn = vi.fn(real.setTimeout);
  return { ...real, setTimeout: sleeps.fn };
});

async function podDir() {
  const dir = path.join(await mkdtemp(path.join(tmpdir(), "pod-lock-")), "tester");
  await mkdir(dir, { recursive: true });
  return { dir, lock: path.join(dir, "lock"), owner: path.join(dir, "lock.owner") };
}

/** A lock directory left as if its holder last refreshed it `ageMs` ago. */
async function heldLock(lock: string, ownerFile: string, owner: string, ageMs: number) {
  await mkdir(lock);
  await writeFile(ownerFile, owner);
  const t = new Date(Date.now() - ageMs);
  await utimes(lock, t, t);
}

async function deadPid(): Promise<number> {
  const child = spawn(process.execPath, ["-e", ""], { stdio: "ignore" });
  await new Promise((r) => child.on("exit", r));
  await new Promise((r) => setTimeout(r, 50)); // reaped
  return child.pid!;
}

describe("process identity", () => {
  it("this process is alive; the same pid with another start time, another boot, or a gone pid is dead; another host is unknown", async () => {
    const me = identityOf(process.pid);
    expect(ownerState(me)).toBe("alive");
    if (process.platform === "linux") {
      expect(me.start).toMatch(/^\d+$/);
      expect(ownerState({ ...me, start: String(Number(me.start) + 1) })).toBe("dead"); // pid reused
      expect(ownerState({ ...me, boot: "another-boot" })).toBe("dead");
    }
    expect(ownerState({ ...me, pid: await deadPid() })).toBe("dead");
    expect(ownerState({ ...me, host: "elsewhere" })).toBe("other-host");
  });

  it("round-trips through lock.owner's one line; a bare pid (older pod) is a local identity without start time", () => {
    const me = identityOf(process.pid);
    expect(parseIdentity(formatIdentity(me))).toEqual(me);
    expect(parseIdentity(`${process.pid}\n`)).toMatchObject({ pid: process.pid, start: undefined, host: me.host });
    expect(parseIdentity("garbage")).toBeUndefined();
    expect(parseIdentity("")).toBeUndefined();
  });
});

describe("acquirePodLock", () => {
  it("never takes a lock from a live owner, however stale its mtime", async () => {
    const p = await podDir();
    // The owner is this very process (alive, right start time), silent for 10 minutes.
    await heldLock(p.lock, p.owner, formatIdentity(identityOf(process.pid)), 600_000);
    sleeps.fn.mockClear();
    await expect(acquirePodLock(p.dir, p.lock, { onCompromised: () => {} })).rejects.toMatchObject({ code: "already_running", message: expect.stringContaining(`pid ${process.pid}`) });
    // Refused at once, not after a wait: the lock's only way to wait is this sleep.
    expect(sleeps.fn).not.toHaveBeenCalled();
  });

  it("takes the lock of a dead owner, and of a recycled pid (same pid, another start time)", async () => {
    for (const owner of [formatIdentity({ ...identityOf(process.pid), pid: await deadPid() }), formatIdentity({ ...identityOf(process.pid), start: "1" })]) {
      const p = await podDir();
      await heldLock(p.lock, p.owner, owner, 5_000);
      const held = await acquirePodLock(p.dir, p.lock, { onCompromised: () => {} });
      expect(parseIdentity(await readFile(p.owner, "utf8"))).toEqual(identityOf(process.pid));
      held.assertHeld();
      await held.release();
    }
  });

  it("an owner on another host keeps its lock until it is 60 s silent", async () => {
    const p = await podDir();
    const remote = formatIdentity({ ...identityOf(process.pid), host: "elsewhere" });
    await heldLock(p.lock, p.owner, remote, 30_000);
    sleeps.fn.mockClear();
    await expect(acquirePodLock(p.dir, p.lock, { onCompromised: () => {} })).rejects.toMatchObject({ code: "already_running", message: expect.stringContaining("on host elsewhere") });
    expect(sleeps.fn).toHaveBeenCalled(); // it waited out its deadline (the counter sees the lock's waits)
    const t = new Date(Date.now() - 61_000);
    await utimes(p.lock, t, t);
    const held = await acquirePodLock(p.dir, p.lock, { onCompromised: () => {} });
    await held.release();
  });

  it("a holder whose name is no longer on the lock stops writing", async () => {
    const p = await podDir();
    const held = await acquirePodLock(p.dir, p.lock, { onCompromised: () => {} });
    held.assertHeld();
    await writeFile(p.owner, formatIdentity({ ...identityOf(process.pid), pid: 999_999 }));
    expect(() => held.assertHeld()).toThrow(/lost the pod lock/);
    await held.release();
  });
});

describe("the test seam POD_TEST_DEAD_OWNER_STALE_MS", () => {
  afterEach(() => {
    delete process.env.POD_TEST_DEAD_OWNER_STALE_MS;
    vi.resetModules();
  });

  it("is off unless set: the production grace is 2 s, a remote owner's 60 s", () => {
    expect(process.env.POD_TEST_DEAD_OWNER_STALE_MS).toBeUndefined();
    expect(DEAD_OWNER_STALE_MS).toBe(2_000);
    expect(REMOTE_STALE_MS).toBe(60_000);
  });

  it("can shorten the dead-owner grace to 100 ms at least, never remove or lengthen it", () => {
    expect(deadOwnerStaleMs(undefined)).toBe(2_000);
    for (const ok of ["100", "250", "2000"]) expect(deadOwnerStaleMs(ok)).toBe(Number(ok));
    for (const refused of ["", "0", "99", "-5", "2001", "10000", "1e3", "250ms", " 250", "0x100", "Infinity", "NaN"]) expect(deadOwnerStaleMs(refused), refused).toBe(2_000);
  });

  it("is read by the lock (an unnamed lock 1 s old is free with it at 100 ms, held without it); a live owner is still refused", async () => {
    const p = await podDir();
    await mkdir(p.lock);
    const oneSecondOld = async () => {
      const t = new Date(Date.now() - 1_000);
      await utimes(p.lock, t, t);
    };
    process.env.POD_TEST_DEAD_OWNER_STALE_MS = "100";
    vi.resetModules();
    const seamed = await import("../../src/store/lock.js");
    delete process.env.POD_TEST_DEAD_OWNER_STALE_MS;
    vi.resetModules();
    const plain = await import("../../src/store/lock.js");
    expect([seamed.DEAD_OWNER_STALE_MS, plain.DEAD_OWNER_STALE_MS]).toEqual([100, 2_000]);
    await oneSecondOld();
    expect(await seamed.isLocked(p.dir, p.lock)).toBe(false);
    await oneSecondOld();
    expect(await plain.isLocked(p.dir, p.lock)).toBe(true);
    // However old its lock, a live owner keeps it under the seam too.
    await writeFile(p.owner, formatIdentity(identityOf(process.pid)));
    const t = new Date(Date.now() - 600_000);
    await utimes(p.lock, t, t);
    expect(await seamed.isLocked(p.dir, p.lock)).toBe(true);
    await expect(seamed.acquirePodLock(p.dir, p.lock, { onCompromised: () => {} })).rejects.toMatchObject({ code: "already_running" });
  });
});
