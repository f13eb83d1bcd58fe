// Cold start: `pod --version` and `pod status` against `node -e 0`, each the median
// of 31 runs in this same process tree.
import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { fmt, ratio, timeProcesses } from "./lib.mjs";

export async function coldStart(pod) {
  const dir = mkdtempSync(path.join(tmpdir(), "pod-bench-cold-"));
  writeFileSync(path.join(dir, "pod.toml"), '[pod]\nname = "bench"\n');
  // Interleaved, so a slow spell of this shared machine hits the baseline as much as pod.
  const [node, version, status] = timeProcesses([
    [process.execPath, ["-e", "0"]],
    [process.execPath, [pod, "--version"]],
    [process.execPath, [pod, "status"], { cwd: dir }],
  ]);
  return {
    rows: [
      ["`node -e 0` (baseline)", fmt(node), "1.00"],
      ["`pod --version`", fmt(version), ratio(version, node)],
      ["`pod status`", fmt(status), ratio(status, node)],
    ],
    versionRatio: version / node,
    statusRatio: status / node,
  };
}
