import { describe, expect, it } from "vitest";
import { fastPath } from "../../src/fast-path.js";

describe("fastPath", () => {
  it("recognises --version and plain status invocations", () => {
    expect(fastPath(["--version"])).toEqual({ kind: "version" });
    expect(fastPath(["-V"])).toEqual({ kind: "version" });
    expect(fastPath(["status"])).toEqual({ kind: "status", opts: {} });
    expect(fastPath(["-C", "dir", "status", "--format", "pretty"])).toEqual({ kind: "status", opts: { dir: "dir", format: "pretty" } });
    expect(fastPath(["status", "--runtime-dir=/rt", "--manifest", "x.toml"])).toEqual({ kind: "status", opts: { runtimeDir: "/rt", manifest: "x.toml" } });
  });

  it("leaves everything else to commander, so behaviour never differs", () => {
    for (const args of [
      [],
      ["--version", "extra"],
      ["status", "--help"],
      ["status", "--bogus"],
      ["status", "--format", "xml"],
      ["status", "--format"],
      ["status", "-C", "a", "-C", "b"],
      ["status", "status"],
      ["run", "status"],
      ["history"],
      ["-C", "status"],
    ]) {
      expect(fastPath(args), JSON.stringify(args)).toBeUndefined();
    }
  });
});
