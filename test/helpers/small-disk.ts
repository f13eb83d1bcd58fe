import { execFile, spawn, type ChildProcess } from "node:child_process";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import path from "node:path";
import { promisify } from "node:util";

/**
 * A small tmpfs, for a full disk, without root: `unshare -Urm` makes a user namespace in
 * which this user may mount, and a mount namespace that holds the tmpfs; pod runs inside
 * both through `nsenter` (PodOptions.prefix = disk.enter(cwd)). The mount exists only in
 * that namespace, so nothing stays mounted on the host if the test dies, and the holder
 * (a `cat` reading our pipe) ends when this process does.
 *
 * It fails, never skips, where user namespaces are off (the message says which setting).
 */
export interface SmallDisk {
  /** The mount point (an empty directory outside the namespace). */
  dir: string;
  /** The command to run a program inside the namespace, in `cwd`. */
  enter(cwd: string): string[];
  /** Change the tmpfs's size (remount), e.g. to free space. */
  resize(kb: number): Promise<void>;
  close(): Promise<void>;
}

const run = promisify(execFile);

export async function smallDisk(kb: number): Promise<SmallDisk> {
  const dir = await mkdtemp(path.join(tmpdir(), "pod-full-"));
  const holder: ChildProcess = spawn("unshare", ["-Urm", "sh", "-c", 'mount -t tmpfs -o "size=$1k" tmpfs "$2" && echo mounted && exec cat >/dev/null', "sh", String(kb), dir], {
    stdio: ["pipe", "pipe", "pipe"],
  });
  let stderr = "";
  holder.stderr!.setEncoding("utf8").on("data", (d: string) => (stderr += d));
  await new Promise<void>((resolve, reject) => {
    holder.on("error", reject);
    holder.on("exit", (code) =>
      reject(
        new Error(
          `cannot mount a tmpfs in a user namespace (unshare -Urm exited ${code}: ${stderr.trim()}); ` +
            "the full-disk test needs unprivileged user namespaces (sysctl kernel.unprivileged_userns_clone=1, user.max_user_namespaces > 0)",
        ),
      ),
    );
    holder.stdout!.setEncoding("utf8").on("data", (d: string) => d.includes("mounted") && resolve());
  });
  holder.removeAllListeners("exit");
  const enter = (cwd: string) => ["nsenter", "--preserve-credentials", "-U", "-m", "-t", String(holder.pid), `--wd=${cwd}`, "--"];
  return {
    dir,
    enter,
    async resize(size: number) {
      await run(enter("/")[0]!, [...enter("/").slice(1), "mount", "-t", "tmpfs", "-o", `remount,size=${size}k`, "tmpfs", dir]);
    },
    async close() {
      if (holder.exitCode === null && holder.signalCode === null) {
        const gone = new Promise((r) => holder.once("exit", r));
        holder.stdin!.end();
        await gone;
      }
      await rm(dir, { recursive: true, force: true });
    },
  };
}
