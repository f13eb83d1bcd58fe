import { existsSync, mkdtempSync, readFileSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import { startFakeServer, type FakeServer } from "../fake-server/server.js";
import { makeProject, manifest, ofType, podEnv, runPod } from "../helpers/pod-process.js";

/**
 * Secrets never leave through pod's report files either (issue 21 item 3): `--diff` and
 * `--sarif` are files CI uploads as artifacts or to code scanning, where more people read
 * them than the job's log. Before this, a token copied by Bash into a changed file went
 * into the patch verbatim, and a finding that repeated it went into the SARIF file.
 */
const usage = { input_tokens: 10, output_tokens: 5, cache_read_input_tokens: 0, cache_creation_input_tokens: 0 };
const GITHUB_TOKEN = "ghs_FAKEgithubTOKEN0123456789abcdefXYZ";

let server: FakeServer | undefined;
afterEach(async () => {
  await server?.close();
  server = undefined;
});

describe("a secret in a report file", () => {
  it("--diff: a changed file that holds a secret's value is not put in a patch; the run says which file and writes nothing", async () => {
    server = await startFakeServer({
      turns: [
        { response: { content: [{ type: "tool_use", id: "b1", name: "Bash", input: { command: "cp config/settings.txt notes.txt" } }], stop_reason: "tool_use", usage } },
        { expect: { tool_result_for: "b1" }, response: { content: [{ type: "text", text: "copied" }], stop_reason: "end_turn", usage } },
      ],
    });
    const dir = await makeProject(manifest({ extra: '\n[tools.bash]\nenabled = true\nallow = ["cp *"]\n' }), { "config/settings.txt": `github=${GITHUB_TOKEN}\n`, "a.txt": "a\n" });
    const out = mkdtempSync(path.join(tmpdir(), "pod-diff-"));
    const r = await runPod(["run", "copy", "--diff", path.join(out, "changes.diff")], { cwd: dir, env: podEnv(server.url, { GITHUB_TOKEN }) });
    // The copy itself ran: otherwise this proves nothing.
    expect(readFileSync(path.join(dir, "notes.txt"), "utf8")).toContain(GITHUB_TOKEN);
    expect(r.code, r.stderr).toBe(1);
    const err = ofType(r.events, "error").at(-1);
    expect(err.message).toMatch(/--diff .*changes\.diff: not written: .*secret.*notes\.txt/);
    expect(existsSync(path.join(out, "changes.diff"))).toBe(false);
    expect(r.stdout).not.toContain(GITHUB_TOKEN);
    // The change is still told: files_changed is the run's account, not the patch's.
    expect(r.events.at(-1)).toMatchObject({ type: "run_end", result: "error", files_changed: expect.arrayContaining([expect.objectContaining({ path: "notes.txt" })]) });
  });

  /**
   * One Bash call on a project holding data/blob.bin, a binary file with the token in
   * it, run with --diff: what the run printed, the project, and where the patch would be.
   */
  const blobRun = async (verb: string, command: string) => {
    server = await startFakeServer({
      turns: [
        { response: { content: [{ type: "tool_use", id: "b1", name: "Bash", input: { command: `${verb} ${command}` } }], stop_reason: "tool_use", usage } },
        { expect: { tool_result_for: "b1" }, response: { content: [{ type: "text", text: "done" }], stop_reason: "end_turn", usage } },
      ],
    });
    const blob = Buffer.concat([Buffer.from([0, 1, 2, 3]), Buffer.from(`token=${GITHUB_TOKEN}`), Buffer.from([0, 255])]);
    const dir = await makeProject(manifest({ extra: `\n[tools.bash]\nenabled = true\nallow = ["${verb} *"]\n` }), { "data/blob.bin": blob, "a.txt": "a\n" });
    const patch = path.join(mkdtempSync(path.join(tmpdir(), "pod-diff-")), "changes.diff");
    const r = await runPod(["run", verb, "--diff", patch], { cwd: dir, env: podEnv(server.url, { GITHUB_TOKEN }) });
    return { r, dir, patch };
  };

  it("--diff: a binary file that holds a secret's value is not put in a patch either (a binary patch carries it deflated and in base85, where no text search sees it)", async () => {
    const { r, dir, patch } = await blobRun("cp", "data/blob.bin copy.bin");
    expect(readFileSync(path.join(dir, "copy.bin")).includes(GITHUB_TOKEN)).toBe(true);
    expect(r.code, r.stderr).toBe(1);
    expect(ofType(r.events, "error").at(-1).message).toMatch(/--diff .*changes\.diff: not written: .*secret.*copy\.bin/);
    expect(existsSync(patch)).toBe(false);
  });

  it("--diff: a deleted binary file that held a secret's value is not put in a patch (the reverse literal would carry its old content)", async () => {
    const { r, dir, patch } = await blobRun("rm", "data/blob.bin");
    expect(existsSync(path.join(dir, "data/blob.bin"))).toBe(false);
    expect(r.code, r.stderr).toBe(1);
    expect(ofType(r.events, "error").at(-1).message).toMatch(/--diff .*changes\.diff: not written: .*secret.*data\/blob\.bin/);
    expect(existsSync(patch)).toBe(false);
    expect(r.events.at(-1)).toMatchObject({ type: "run_end", files_changed: [{ path: "data/blob.bin", change: "deleted" }] });
  });

  it("--sarif: a finding that repeats a secret's value is written with it [redacted]", async () => {
    const findings = {
      summary: `The token ${GITHUB_TOKEN} is committed.`,
      findings: [{ path: "a.txt", line: 1, severity: "error", rule: "secret", message: `Hard-coded token ${GITHUB_TOKEN}` }],
    };
    server = await startFakeServer({ turns: [{ response: { content: [{ type: "tool_use", id: "f1", name: "final_answer", input: findings }], stop_reason: "tool_use", usage } }] });
    const dir = await makeProject(manifest({ extra: "" }).replace('system_prompt = "You fix code."\n', ""), { "a.txt": "a\n" });
    const out = mkdtempSync(path.join(tmpdir(), "pod-sarif-"));
    const r = await runPod(["run", "review", "--review", "--sarif", path.join(out, "review.sarif")], { cwd: dir, env: podEnv(server.url, { GITHUB_TOKEN }) });
    expect(r.code, r.stderr).toBe(0);
    const sarif = readFileSync(path.join(out, "review.sarif"), "utf8");
    expect(sarif).not.toContain(GITHUB_TOKEN);
    expect(JSON.parse(sarif).runs[0].results[0].message.text).toBe("Hard-coded token [redacted]");
  });
});
