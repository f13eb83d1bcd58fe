import { spawn } from "node:child_process";
import { mkdtempSync, readFileSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { describe, expect, it } from "vitest";
import { parse } from "yaml";
import { runToEnd } from "../helpers/spawn.js";
import { POD_BIN, REPO_ROOT } from "../helpers/pod-process.js";
import { contextsIn, evaluate, expressionsIn, importAction, parseFileCommands } from "./action-harness.js";

/**
 * The GitHub Action's wiring and its pure parts: action.yml declares every input and output
 * the scripts use and write, uses only contexts the runner allows where it uses them, and the
 * scripts turn inputs into the right pod command line, cache keys, names and sandbox plans.
 * The jobs themselves run in action-jobs.test.ts (and from a fresh clone, npm ci included,
 * in action-install.test.ts).
 */
const action = parse(readFileSync(path.join(REPO_ROOT, "action.yml"), "utf8"));
const steps: any[] = action.runs.steps;
const run = await importAction("run.mjs");
const setup = await importAction("setup.mjs");
const sandbox = await importAction("sandbox.mjs");
const io = await importAction("io.mjs");

/** The scripts a `run:` step starts, by path under the action. */
const scriptOf = (step: any) => /action\/([\w-]+\.mjs)/.exec(step.run ?? "")?.[1];
const inputVar = (name: string) => `INPUT_${name.toUpperCase().replaceAll("-", "_")}`;

describe("action.yml", () => {
  it("is a composite action whose every run step runs one of action/*.mjs, and every uses step is a pinned actions/* action", () => {
    expect(action.runs.using).toBe("composite");
    for (const s of steps) {
      if (s.run) {
        expect(s.run.trim()).toMatch(/^node "\$GITHUB_ACTION_PATH\/action\/[\w-]+\.mjs"$/);
        expect(s.shell).toBe("bash");
      } else expect(s.uses).toMatch(/^actions\/(cache\/restore|cache\/save|upload-artifact)@v4$/);
    }
    const ids = steps.map((s) => s.id).filter(Boolean);
    expect(new Set(ids).size).toBe(ids.length);
  });

  it("declares every input it uses, uses every input it declares, and passes each script exactly the inputs it reads", () => {
    const used = new Set(expressionsIn(action.runs, "runs").flatMap(({ expr }) => [...expr.matchAll(/\binputs\.([\w-]+)/g)].map((m) => m[1]!)));
    expect([...used].sort()).toEqual(Object.keys(action.inputs).sort());
    for (const s of steps.filter((x) => x.run)) {
      const source = readFileSync(path.join(REPO_ROOT, "action", scriptOf(s)!), "utf8");
      const read = new Set([...source.matchAll(/\b(?:get|input)\((?:env, )?"([\w-]+)"\)/g)].map((m) => m[1]!));
      if (/env\.INPUT_PROMPT/.test(source)) read.add("prompt");
      const passed = Object.entries<string>(s.env ?? {}).filter(([k]) => k.startsWith("INPUT_"));
      for (const [variable, expr] of passed) {
        const name = /^\$\{\{ inputs\.([\w-]+) \}\}$/.exec(expr)?.[1];
        expect(name, `${s.id}: ${variable}`).toBeDefined();
        expect(variable).toBe(inputVar(name!));
      }
      expect(passed.map(([k]) => k).sort(), `${s.id} passes what ${scriptOf(s)} reads`).toEqual([...read].map(inputVar).sort());
    }
  });

  it("declares exactly the outputs the run step writes, each from that step", () => {
    expect(Object.keys(action.outputs)).toEqual(run.OUTPUTS);
    for (const [name, o] of Object.entries<any>(action.outputs)) {
      expect(o.value).toBe(`\${{ steps.pod.outputs.${name} }}`);
      expect(o.description.length).toBeGreaterThan(10);
    }
  });

  it("reads a step's outputs only after that step, and only outputs that step has", () => {
    // What each uses step writes (actions/cache/restore@v4's documented outputs).
    const known: Record<string, string[]> = { "actions/cache/restore@v4": ["cache-hit", "cache-primary-key", "cache-matched-key"] };
    for (const [i, s] of steps.entries()) {
      for (const { where, expr } of expressionsIn(s, `step ${s.id ?? i}`)) {
        for (const [, id, out] of expr.matchAll(/\bsteps\.([\w-]+)\.outputs\.([\w-]+)/g)) {
          const j = steps.findIndex((x) => x.id === id);
          expect(j, `${where}: ${expr}`).toBeGreaterThanOrEqual(0);
          expect(j, `${where}: ${expr} reads a later step`).toBeLessThan(i);
          if (steps[j].uses) expect(known[steps[j].uses], `${where}: ${expr}`).toContain(out);
          // A run step's outputs: checked for real in action-jobs.test.ts (every one written).
        }
      }
    }
  });

  it("uses each context only where the runner allows it (actions/runner src/Runner.Worker/action_yaml.json)", () => {
    // Copied from the runner's schema for action.yml: `secrets` is nowhere, `hashFiles`
    // only reads the workspace (so the install key is computed by setup.mjs instead).
    const STEP = ["github", "inputs", "strategy", "matrix", "steps", "job", "runner", "env"];
    const allowed = (where: string) => (where.startsWith("outputs") ? STEP : where.startsWith("inputs") ? ["github", "strategy", "matrix", "job", "runner"] : STEP);
    const all = [...expressionsIn(action.inputs, "inputs"), ...expressionsIn(action.outputs, "outputs"), ...expressionsIn(action.runs, "runs")];
    expect(all.length).toBeGreaterThan(40);
    for (const { where, expr } of all) for (const c of contextsIn(expr)) expect(allowed(where), `${where}: ${expr}`).toContain(c);
    for (const s of steps.filter((x) => x.if)) for (const c of contextsIn(s.if)) expect(STEP).toContain(c);
  });

  it("uploads the events and saves the runtime dir even when the run step failed; restores only by its own prefixes", () => {
    const upload = steps.find((s) => String(s.uses).startsWith("actions/upload-artifact@"));
    const restore = steps.find((s) => s.id === "runtime-cache");
    const save = [...steps].reverse().find((s) => String(s.uses).startsWith("actions/cache/save@"));
    for (const s of [upload, save]) expect(s.if).toMatch(/^always\(\)/);
    expect(restore.with.path).toBe(save.with.path);
    expect(restore.with.key).toBe(save.with.key);
    // The old fallback to the bare prefix (any run's pod) is gone: the keys come from setup.mjs.
    expect(restore.with["restore-keys"]).toBe("${{ steps.setup.outputs.runtime-restore-keys }}");
  });
});

describe("the command line the action builds", () => {
  const dry = async (inputs: Record<string, string>, extra: Record<string, string> = {}) => {
    const env = { PATH: process.env.PATH, ...Object.fromEntries(Object.entries(inputs).map(([k, v]) => [inputVar(k), v])), ...extra };
    const r = await runToEnd(process.execPath, [path.join(REPO_ROOT, "action/run.mjs"), "--dry-run"], { cwd: REPO_ROOT, env: env as NodeJS.ProcessEnv });
    return { code: r.code, ...JSON.parse(r.stdout) };
  };

  it("a run with every option; a new workflow run starts a new session", async () => {
    const r = await dry(
      { prompt: "fix the tests; don't touch 'docs'", manifest: "ci/pod.toml", "working-directory": "sub dir", "output-schema": "schema.json", "max-budget-usd": "1.5", timeout: "1h30m", "max-turns": "20", model: "m" },
      { POD_RUNTIME_DIR_RESOLVED: "/runner/temp/pod-runtime" },
    );
    expect(r.code).toBe(0);
    expect(r.cwd).toBe("sub dir");
    expect(r.command).toEqual([
      "pod", "run", "fix the tests; don't touch 'docs'", "--new", "--output-schema", "schema.json",
      "--max-budget-usd", "1.5", "--timeout", "1h30m", "--max-turns", "20", "--model", "m", "--manifest", "ci/pod.toml", "--runtime-dir", "/runner/temp/pod-runtime", "--format", "jsonl",
    ]);
  });

  it("continues the session only when this run's runtime dir was restored, or a session is named; new-session overrides", async () => {
    expect((await dry({ prompt: "x" }, { POD_RESTORED_KEY: "pod-runtime-run7-1-fix-1-abc" })).command).toEqual(["pod", "run", "x", "--format", "jsonl"]);
    expect((await dry({ prompt: "x" })).command).toEqual(["pod", "run", "x", "--new", "--format", "jsonl"]);
    expect((await dry({ prompt: "x", session: "20261125T021500Z-a1b2c3" })).command).toEqual(["pod", "run", "x", "--session", "20261125T021500Z-a1b2c3", "--format", "jsonl"]);
    expect((await dry({ prompt: "x", "new-session": "true" }, { POD_RESTORED_KEY: "k" })).command).toEqual(["pod", "run", "x", "--new", "--format", "jsonl"]);
    expect((await dry({ prompt: "x", "new-session": "false" })).command).toEqual(["pod", "run", "x", "--format", "jsonl"]);
    expect(await dry({ prompt: "x", "new-session": "sometimes" })).toMatchObject({ code: 2, error: expect.stringContaining("new-session") });
  });

  it("approve, deny and resume continue the paused pod; run-only options are not passed to resume", async () => {
    expect((await dry({ approve: "true", prompt: "", "output-schema": "s.json" })).command).toEqual(["pod", "resume", "--approve", "--format", "jsonl"]);
    expect((await dry({ deny: "not on main", timeout: "5m" })).command).toEqual(["pod", "resume", "--deny", "not on main", "--timeout", "5m", "--format", "jsonl"]);
    expect((await dry({ resume: "true" })).command).toEqual(["pod", "resume", "--format", "jsonl"]);
  });

  it("refuses contradictory or empty inputs; sends a huge prompt on stdin", async () => {
    expect(await dry({ approve: "true", deny: "no" })).toMatchObject({ code: 2, error: expect.stringContaining("not approve and deny") });
    expect(await dry({ prompt: "  " })).toMatchObject({ code: 2, error: expect.stringContaining("prompt") });
    const big = await dry({ prompt: "x".repeat(100_000) });
    expect(big).toMatchObject({ code: 0, stdin: true });
    expect(big.command.slice(0, 3)).toEqual(["pod", "run", "-"]);
  });

  it("every flag it builds exists in the built pod", async () => {
    const help = (cmd: string) =>
      new Promise<string>((resolve) => {
        const c = spawn(process.execPath, [POD_BIN, cmd, "--help"], { stdio: ["ignore", "pipe", "ignore"] });
        let out = "";
        c.stdout.setEncoding("utf8").on("data", (d: string) => (out += d));
        c.on("close", () => resolve(out));
      });
    const [runHelp, resumeHelp, global] = [await help("run"), await help("resume"), await help("status")];
    for (const flag of ["--session", "--new", "--output-schema", "--max-budget-usd", "--timeout", "--max-turns", "--model", "--format"]) expect(runHelp).toContain(flag);
    for (const flag of ["--approve", "--deny", "--timeout"]) expect(resumeHelp).toContain(flag);
    for (const flag of ["--manifest", "--runtime-dir", "-C"]) expect(global + runHelp).toContain(flag);
  });
});

describe("names and keys (setup.mjs)", () => {
  it("restores only this workflow run's runtime dir, or the run continue-from names", () => {
    const k = (o: Record<string, unknown>) => setup.runtimeKeys({ cacheKey: "pod-runtime", leg: "", runId: "100", attempt: "1", job: "fix", step: 1, continueFrom: "", now: 1, ...o });
    expect(k({})).toEqual({ key: "pod-runtime-run100-1-fix-1-1", restore: ["pod-runtime-run100-"] });
    // Run 1000's keys never match run 100's prefix, nor the other way round.
    expect(k({ runId: "1000" }).key.startsWith(k({}).restore[0])).toBe(false);
    expect(k({ continueFrom: "99" }).restore).toEqual(["pod-runtime-run100-", "pod-runtime-run99-"]);
    expect(k({ continueFrom: "latest" }).restore).toEqual(["pod-runtime-run100-", "pod-runtime-run"]);
    expect(() => k({ continueFrom: "main" })).toThrow(/continue-from/);
    // A matrix leg's keys are its own.
    expect(k({ leg: "m1234abcd" }).restore).toEqual(["pod-runtime-m1234abcd-run100-"]);
    expect(k({ leg: "m1234abcd" }).key.startsWith(k({}).restore[0])).toBe(false);
  });

  it("names matrix legs by their values: the same values, the same name, in any job", () => {
    expect(setup.legName("null")).toBe("");
    expect(setup.legName("{}")).toBe("");
    expect(setup.legName("")).toBe("");
    const a = setup.legName(JSON.stringify({ node: 20, os: "ubuntu-latest" }, null, 2));
    expect(a).toMatch(/^m[0-9a-f]{8}$/);
    expect(setup.legName(JSON.stringify({ os: "ubuntu-latest", node: 20 }))).toBe(a);
    expect(setup.legName(JSON.stringify({ node: 22, os: "ubuntu-latest" }))).not.toBe(a);
  });

  it("names the action as the workflow did, for the approval step it prints", () => {
    expect(setup.actionUses({ POD_ACTION_REPOSITORY: "acme/pod", POD_ACTION_REF: "v0" })).toBe("acme/pod@v0");
    // Inside a composite action github.action_repository can be empty: the checkout's place says it.
    expect(setup.actionUses({ GITHUB_ACTION_PATH: "/home/runner/work/_actions/acme/pod/0123abc" })).toBe("acme/pod@0123abc");
    expect(setup.actionUses({ GITHUB_ACTION_PATH: "/home/runner/work/_actions/acme/pod/feature/x" })).toBe("acme/pod@feature/x");
    expect(setup.actionUses({ GITHUB_ACTION_PATH: "/w/repo", GITHUB_WORKSPACE: "/w/repo" })).toBe("./");
  });

  it("keys the install by the checkout's content: any change to what is built changes it, tests and build output do not", async () => {
    const { cpSync, writeFileSync, rmSync } = await import("node:fs");
    const dir = mkdtempSync(path.join(tmpdir(), "pod-tree-"));
    for (const f of ["package.json", "src", "bin"]) cpSync(path.join(REPO_ROOT, f), path.join(dir, f), { recursive: true });
    const key = () => setup.installKey({ os: "Linux", arch: "X64", version: "0.1.0", actionPath: dir });
    const k0 = key();
    writeFileSync(path.join(dir, "src", "new.ts"), "export {};\n");
    const k1 = key();
    expect(k1).not.toBe(k0);
    cpSync(path.join(dir, "src"), path.join(dir, "dist"), { recursive: true });
    cpSync(path.join(dir, "src"), path.join(dir, "test"), { recursive: true });
    expect(key()).toBe(k1);
    rmSync(dir, { recursive: true, force: true });
  });
});

describe("outputs and workflow commands (io.mjs)", () => {
  it("writes outputs the runner reads back exactly, whatever the value holds", () => {
    const value = "line 1\nPOD_EOF\nresult<<X\nX\nexit-code=0\n\n";
    const text = io.heredocs({ output: value, result: "finished" });
    expect(parseFileCommands(text)).toEqual({ output: value, result: "finished" });
    // A fresh random delimiter each time: nothing a model wrote earlier can know it.
    const d1 = /^output<<(.+)$/m.exec(io.heredocs({ output: "x" }))![1];
    const d2 = /^output<<(.+)$/m.exec(io.heredocs({ output: "x" }))![1];
    expect(d1).not.toBe(d2);
    expect(() => io.heredocs({ "bad name": "x" })).toThrow();
  });

  it("escapes workflow command data as the runner unescapes it", () => {
    expect(io.command("error", { title: "a:b,c" }, "50%\nnext::line")).toBe("::error title=a%3Ab%2Cc::50%25%0Anext::line");
  });
});

describe("the sandbox plan (sandbox.mjs)", () => {
  const base = { platform: "linux", bwrap: "/usr/bin/bwrap", apparmorRestrict: "0", container: false, apt: true, apparmorParser: true, sudo: "sudo" };
  const what = (d: object, policy: string, hosted: boolean) => sandbox.planFixes({ ...base, ...d }, policy, hosted).map((f: any) => f.what);

  it("changes the machine only where allowed: GitHub-hosted with auto, anywhere with setup, never with check or without sudo", () => {
    const missing = { bwrap: undefined };
    expect(what(missing, "auto", true)).toEqual(["install bubblewrap"]);
    expect(what(missing, "auto", false)).toEqual([]);
    expect(what(missing, "setup", false)).toEqual(["install bubblewrap"]);
    expect(what(missing, "check", true)).toEqual([]);
    expect(what({ ...missing, sudo: undefined }, "setup", true)).toEqual([]);
    expect(what({ ...missing, platform: "darwin" }, "setup", true)).toEqual([]);
    const cmd = sandbox.planFixes({ ...base, ...missing }, "auto", true)[0].steps[0];
    expect(cmd).toEqual(["sudo", "-n", "apt-get", "install", "-y", "--no-install-recommends", "bubblewrap"]);
    expect(sandbox.planFixes({ ...base, ...missing, sudo: "root" }, "auto", true)[0].steps[0][0]).toBe("apt-get");
  });

  it("under AppArmor's user-namespace restriction: a profile for bwrap first, the sysctl only if that is not enough", () => {
    expect(what({ apparmorRestrict: "1" }, "auto", true)).toEqual(["give bwrap an AppArmor profile that allows user namespaces", "lift AppArmor's user-namespace restriction on this runner"]);
    expect(what({ bwrap: undefined, apparmorRestrict: "1" }, "auto", true)[0]).toBe("install bubblewrap");
    expect(sandbox.planFixes({ ...base, apparmorRestrict: "1" }, "auto", true)[1].steps[0]).toEqual(["sudo", "-n", "sysctl", "-w", "kernel.apparmor_restrict_unprivileged_userns=0"]);
    expect(sandbox.bwrapProfile("/usr/bin/bwrap")).toMatch(/^abi <abi\/4\.0>,\ninclude <tunables\/global>\n\nprofile pod-bwrap \/usr\/bin\/bwrap flags=\(unconfined\) \{\n {2}userns,\n/);
  });

  it("explains each case with its fix", () => {
    const pf = { message: "Bash needs an OS sandbox and bubblewrap cannot start here (bwrap: setting up uid map: Permission denied)", hint: "install bubblewrap …" };
    expect(sandbox.explain({ ...base, bwrap: undefined }, pf)).toMatch(/sudo apt-get install -y bubblewrap/);
    const aa = sandbox.explain({ ...base, apparmorRestrict: "1" }, pf);
    expect(aa).toMatch(/kernel\.apparmor_restrict_unprivileged_userns = 1/);
    expect(aa).toMatch(/apparmor_parser -r \/etc\/apparmor\.d\/pod-bwrap/);
    expect(aa).toMatch(/sudo sysctl -w kernel\.apparmor_restrict_unprivileged_userns=0/);
    const docker = sandbox.explain({ ...base, container: true }, pf);
    for (const opt of ["seccomp=unconfined", "apparmor=unconfined", "systempaths=unconfined"]) expect(docker).toContain(opt);
    expect(sandbox.explain({ ...base, usernsClone: "0" }, pf)).toMatch(/unprivileged_userns_clone=1/);
    for (const t of [aa, docker]) expect(t).toContain(pf.message);
  });
});

describe("expressions the harness evaluates", () => {
  it("cover every expression in action.yml", () => {
    const ctx = { inputs: Object.fromEntries(Object.keys(action.inputs).map((k) => [k, "x"])), steps: new Proxy({}, { get: () => ({ outputs: {}, outcome: "success" }) }), github: {}, runner: {}, matrix: null, env: {}, job: {}, strategy: {} };
    for (const { expr } of expressionsIn(action, "action")) expect(() => evaluate(expr, ctx)).not.toThrow();
    for (const s of steps.filter((x) => x.if)) expect(() => evaluate(s.if, ctx)).not.toThrow();
  });
});
