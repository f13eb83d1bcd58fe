import { execFileSync } from "node:child_process";
import { cpSync, existsSync, mkdirSync, readFileSync, renameSync, writeFileSync } from "node:fs";
import { mkdtemp } from "node:fs/promises";
import { tmpdir } from "node:os";
import path from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import { parse } from "yaml";
import { startFakeServer, type FakeServer } from "../fake-server/server.js";
import { runToEnd } from "../helpers/spawn.js";
import { manifest, parseJsonl, podEnv, POD_BIN, REPO_ROOT } from "../helpers/pod-process.js";

/**
 * docs/ci.md against what it documents: the Action's inputs and outputs tables list exactly
 * action.yml's (with its defaults), the workflow examples use only inputs that exist, and
 * the GitLab pipeline parses, its script lines are valid shell, and it runs as written —
 * its before_script's install of the release tarball, the `pod` job pausing, and the manual
 * approval job continuing it in a fresh checkout with the first job's artifacts and cache —
 * against the fake Messages API. (The plain shell step runs in doc-commands.test.ts.)
 */
const CI = readFileSync(path.join(REPO_ROOT, "docs/ci.md"), "utf8");
const action = parse(readFileSync(path.join(REPO_ROOT, "action.yml"), "utf8"));

/** The rows of the first table after `heading`, as arrays of cells. */
function table(heading: string): string[][] {
  const at = CI.indexOf(`\n${heading}\n`);
  expect(at, heading).toBeGreaterThan(0);
  const lines = CI.slice(at).split("\n").slice(2);
  const start = lines.findIndex((l) => l.startsWith("|"));
  const rows: string[][] = [];
  for (const l of lines.slice(start + 2)) {
    if (!l.startsWith("|")) break;
    rows.push(l.slice(1, -1).split(/(?<!\\)\|/).map((c) => c.trim()));
  }
  return rows;
}

/** The fenced blocks of a language under a `## heading` (up to the next `## `). */
function fences(section: string, lang: string): string[] {
  const at = CI.indexOf(`\n## ${section}`);
  expect(at, section).toBeGreaterThan(0);
  const end = CI.indexOf("\n## ", at + 4);
  const text = CI.slice(at, end < 0 ? undefined : end);
  return [...text.matchAll(new RegExp("^```" + lang + "\\n([\\s\\S]*?)^```", "gm"))].map((m) => m[1]!);
}

const unquote = (cell: string) => cell.replace(/^`|`$/g, "");

describe("docs/ci.md's Action tables", () => {
  it("list exactly action.yml's inputs, with its defaults", () => {
    const rows = table("### Inputs");
    expect(rows.map((r) => unquote(r[0]!))).toEqual(Object.keys(action.inputs));
    for (const [name, def, what] of rows) {
      expect(unquote(def!), name).toBe(String(action.inputs[unquote(name!)].default));
      expect(what!.length, name).toBeGreaterThan(3);
    }
  });

  it("list exactly action.yml's outputs", () => {
    expect(table("### Outputs").map((r) => unquote(r[0]!))).toEqual(Object.keys(action.outputs));
  });

  it("show workflows that use only inputs the Action has, and never a tag that does not exist", () => {
    const yamls = fences("GitHub Actions: the pod Action", "yaml");
    expect(yamls.length).toBeGreaterThanOrEqual(2);
    let uses = 0;
    for (const y of yamls) {
      const doc = parse(y);
      const steps = Array.isArray(doc) ? doc : Object.values<any>(doc.jobs ?? {}).flatMap((j) => j.steps);
      for (const s of steps.filter((x: any) => /\/pod@/.test(String(x?.uses)))) {
        uses++;
        expect(s.uses).toBe("OWNER/pod@COMMIT_SHA");
        for (const k of Object.keys(s.with ?? {})) expect(action.inputs, k).toHaveProperty([k]);
      }
    }
    expect(uses).toBeGreaterThanOrEqual(3);
    expect(CI).not.toMatch(/pod@v\d[\w.]*\s/);
    expect(CI).not.toMatch(/npm install[^\n]*pod-ci-agent@/);
  });
});

describe("docs/ci.md's GitLab pipeline", () => {
  const [yamlText] = fences("GitLab CI", "yaml");
  const pipeline = parse(yamlText!);
  const lines = (job: any) => [...(pipeline.default.before_script ?? []), ...(job.script ?? [])] as string[];

  it("parses, has what pod needs in its image and before_script, and a manual approval job", () => {
    expect(pipeline.default.image).toBe("node:20-bookworm");
    const before = pipeline.default.before_script.join("\n");
    for (const pkg of ["bubblewrap", "jq", "git"]) expect(before).toMatch(new RegExp(`apt-get install[^\\n]*\\b${pkg}\\b`));
    expect(before).not.toMatch(/pod-ci-agent@/);
    expect(pipeline["pod-approve"]).toMatchObject({ when: "manual", needs: ["pod"], stage: "approve" });
    expect(pipeline["pod-approve"].script.join("\n")).toContain("pod resume --approve");
    expect(pipeline["pod-approve"].cache.key).toBe(pipeline.pod.cache.key);
    for (const job of [pipeline.pod, pipeline["pod-approve"]]) {
      for (const line of lines(job)) execFileSync("bash", ["-n", "-c", line]);
    }
  });

  let server: FakeServer | undefined;
  afterEach(async () => {
    await server?.close();
  });

  it("runs as written: the tarball install, a run that pauses, the manual job that approves it in a fresh checkout", async () => {
    // What the pipeline assumes: the project with pod.toml, and pod's release tarball in ci/.
    const work = await mkdtemp(path.join(tmpdir(), "pod-gitlab-"));
    const project = path.join(work, "project");
    mkdirSync(path.join(project, "ci"), { recursive: true });
    writeFileSync(path.join(project, "pod.toml"), manifest({ extra: '\n[tools]\nask = ["Bash"]\n[tools.bash]\nenabled = true\nallow = ["cat fix.txt"]\n' }));
    const packed = JSON.parse(execFileSync("npm", ["pack", "--json", "--ignore-scripts", "--pack-destination", work], { cwd: REPO_ROOT, encoding: "utf8" }));
    cpSync(path.join(work, packed[0].filename), path.join(project, "ci", "pod-ci-agent-0.1.0.tgz"));
    const pristine = path.join(work, "pristine");
    cpSync(project, pristine, { recursive: true });
    server = await startFakeServer({
      turns: [
        { response: { content: [{ type: "tool_use", id: "toolu_w", name: "Write", input: { path: "fix.txt", content: "fixed\n" } }], stop_reason: "tool_use" } },
        { response: { content: [{ type: "tool_use", id: "toolu_c", name: "Bash", input: { command: "cat fix.txt" } }], stop_reason: "tool_use" } },
        { response: { content: [{ type: "text", text: "Checked." }] } },
      ],
    });
    const home = path.join(work, "home");
    mkdirSync(home);
    // GitLab runs a job's lines in one shell, stopping at the first that fails. The apt-get
    // line is the only one not run: it needs root and the network; what it installs is here.
    const runJobScript = async (job: any, dir: string) => {
      for (const tool of ["bwrap", "jq", "git"]) execFileSync("bash", ["-c", `command -v ${tool}`]);
      const script = ["set -eo pipefail", ...lines(job).filter((l) => !l.startsWith("apt-get "))].join("\n");
      const env = { ...podEnv(server!.url), HOME: home, CI_PROJECT_DIR: dir, CI_PIPELINE_ID: "77", POD_RUNTIME_DIR: pipeline.variables.POD_RUNTIME_DIR.replace("$CI_PROJECT_DIR", dir), npm_config_cache: path.join(work, "npm-cache") };
      return runToEnd("bash", ["-c", script], { cwd: dir, env: env as NodeJS.ProcessEnv });
    };
    const first = await runJobScript(pipeline.pod, project);
    expect(first.code, first.stdout + first.stderr).toBe(0);
    expect(first.stdout).toContain('"result":"paused"');
    expect(execFileSync(path.join(home, ".local/bin/pod"), ["--version"], { encoding: "utf8" }).trim()).toBe(execFileSync(process.execPath, [POD_BIN, "--version"], { encoding: "utf8" }).trim());

    // The manual job: a fresh checkout at the same path ($CI_PROJECT_DIR), the `pod` job's
    // artifacts (needs) and the cache (.pod/).
    const done = path.join(work, "job-1");
    renameSync(project, done);
    const second = project;
    cpSync(pristine, second, { recursive: true });
    for (const f of pipeline.pod.artifacts.paths as string[]) if (existsSync(path.join(done, f))) cpSync(path.join(done, f), path.join(second, f));
    for (const p of pipeline.pod.cache.paths as string[]) cpSync(path.join(done, p), path.join(second, p), { recursive: true });
    expect(existsSync(path.join(second, "fix.txt"))).toBe(false);
    const approved = await runJobScript(pipeline["pod-approve"], second);
    expect(approved.code, approved.stdout + approved.stderr).toBe(0);
    expect(approved.stdout).toContain('"result":"finished"');
    expect(readFileSync(path.join(second, "fix.txt"), "utf8")).toBe("fixed\n");
    const events = parseJsonl(readFileSync(path.join(second, "pod-resume.jsonl"), "utf8"));
    expect(events.find((e) => e.type === "tool_result" && e.id === "toolu_c").output).toContain("fixed");
  }, 120_000);
});
