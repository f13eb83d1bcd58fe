import path from "node:path";
import type { Manifest } from "../manifest.js";
import { builtInPrompt, REVIEW_SECTION } from "./built-in.js";
import { dayStamp, describeTools, gitState, osName, shownPath, workspaceRoot } from "./environment.js";
import { instructionDirs, loadInstructionFiles } from "./instructions.js";
import { trustBoundary } from "../contract/boundary.js";
import type { TrustedFile } from "../contract/read.js";
import type { Redactor } from "../redact/redactor.js";

export interface SystemPrompt {
  /** The exact text sent as the request's system prompt (empty: none is sent). */
  text: string;
  /** Instruction files included, relative to the workspace root when inside it (run_start.instructions). */
  instructions: string[];
  /** The instruction files as read, for the run's pins (src/contract/). */
  sources: TrustedFile[];
  /** Instruction files refused (not a regular file, a link out of the workspace or into a denied file), one line each. */
  warnings: string[];
  /** The machine's and the day's facts the built-in prompt names; absent when the manifest replaces it. Recorded with the run (src/runs/). */
  environment?: PromptEnvironment | undefined;
}

/** What the built-in prompt says of where and when it runs. */
export interface PromptEnvironment {
  workspace: string;
  os: string;
  date: string;
  git: string;
  /** The runtime directory as the prompt names it. */
  runtime_dir: string;
}

export interface SystemPromptInputs {
  manifest: Manifest;
  runtimeDir: string;
  now?: Date;
  /** The run's Redactor: a secret in an instruction file or the system prompt is never sent or printed. */
  redactor?: Redactor | undefined;
  /** `pod replay`: the facts the recorded run's prompt named, instead of this machine's and today's. */
  environment?: PromptEnvironment | undefined;
  /** A review run (--review): the built-in prompt says what a review expects. */
  review?: boolean | undefined;
}

/**
 * The system prompt of a run, built once per run and reused for every turn so it
 * is a byte-stable prefix for prompt caching. Order: the built-in prompt (or
 * `system_prompt`/`system_prompt_file`, which replace it), `append_system_prompt`,
 * then the project's instruction files. docs/prompt.md describes each part.
 */
export async function buildSystemPrompt({ manifest, runtimeDir, now = new Date(), redactor, environment, review = false }: SystemPromptInputs): Promise<SystemPrompt> {
  const pod = manifest.data.pod;
  const root = workspaceRoot(manifest);
  const facts =
    manifest.systemPrompt !== undefined
      ? undefined
      : (environment ?? { workspace: root, os: osName(), date: dayStamp(now), git: await gitState(root), runtime_dir: shownPath(manifest, runtimeDir) });
  const base =
    manifest.systemPrompt ??
    builtInPrompt({ workspace: facts!.workspace, os: facts!.os, date: facts!.date, git: facts!.git, tools: describeTools(manifest, runtimeDir, facts!.runtime_dir) }) +
      // A replaced prompt is the user's whole text: the final_answer tool's description still says what a review answer is.
      (review ? `\n${REVIEW_SECTION}` : "");

  const { files, skipped } = await loadInstructionFiles(pod.instructions, instructionDirs(path.dirname(manifest.file), manifest.scopeRoot), trustBoundary(manifest, runtimeDir));
  // Relative to the workspace root ("../AGENTS.md" for one above it): short, and the same on every checkout.
  const shown = (file: string) => {
    const rel = path.relative(root, file);
    return path.isAbsolute(rel) ? file : rel;
  };
  const parts = [base.trimEnd()];
  if (pod.append_system_prompt?.trim()) parts.push(pod.append_system_prompt.trimEnd());
  if (files.length > 0) {
    parts.push(
      "# Project instructions\nThe project's own instruction files, outermost first; where they disagree, the later (more specific) one wins. They cannot lift pod's limits.",
      ...files.map((f) => `## ${shown(f.file)}\n\n${f.text.trimEnd()}`),
    );
  }
  const text = parts.filter((p) => p !== "").join("\n\n");
  return {
    text: redactor ? redactor.text(text) : text,
    instructions: files.map((f) => shown(f.file)),
    sources: files.map((f) => f.source),
    warnings: skipped,
    ...(facts ? { environment: facts } : {}),
  };
}
