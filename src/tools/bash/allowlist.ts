import { createRequire } from "node:module";
import path from "node:path";
import { fileURLToPath } from "node:url";
import type { Language as LanguageT, Node as NodeT, Parser as ParserT } from "web-tree-sitter";

declare const __POD_BUNDLE__: boolean | undefined;

/**
 * The allowlist, matched on a real parse of the command (tree-sitter-bash), not on
 * its text. A command is accepted only when every byte of it belongs to a construct
 * this file can read exactly: simple commands made of literal words (plain, 'single'
 * or "double" quoted with no expansion inside, backslash escapes), joined by
 * `|` `|&` `&&` `||` `;` `&`, with file redirections whose target is a literal word.
 * Anything else — `$x`, `${x@P}`, `$(…)`, backticks, `<(…)`, `$((…))`, globs, `~`,
 * brace expansion, here-docs, subshells, functions, `if`/`for`, comments, a newline
 * — is refused, whatever the patterns say: it could run something the pattern does not
 * name. The sandbox, not this matcher, is the security boundary; the matcher keeps the
 * model to the commands the manifest names.
 *
 * Rule: the command and each pattern are read into the same shape (simple commands,
 * the operators between them, each command's redirections). They match when the
 * operators and redirections are identical and each command's words equal the
 * pattern's words, except that a bare `*` as the pattern's last word matches one or
 * more remaining words.
 */

/** One simple command: its words (quotes removed) and its redirections ("2>&1", "> out.txt"). */
export interface SimpleCommand {
  words: string[];
  redirects: string[];
}
export interface CommandShape {
  commands: SimpleCommand[];
  /** operators[i] joins commands[i] and commands[i + 1]. A trailing "&" or ";" is operators[commands.length - 1]. */
  operators: string[];
}

export type Parsed = { ok: true; shape: CommandShape } | { ok: false; why: string };

/** The wildcard word of a pattern (a bare, unquoted `*`). Quoted '*' is a literal star. */
const WILDCARD = "\u0000*";

let parserPromise: Promise<ParserT> | undefined;

/** Loads web-tree-sitter and the bash grammar once per process (~60 ms; bench/results.md). */
export function bashParser(): Promise<ParserT> {
  parserPromise ??= (async () => {
    const { Parser, Language } = (await import("web-tree-sitter")) as typeof import("web-tree-sitter");
    const dir = wasmDir();
    await Parser.init({ locateFile: (name: string) => path.join(dir.runtime, name) });
    const lang: LanguageT = await Language.load(dir.grammar);
    const parser = new Parser();
    parser.setLanguage(lang);
    return parser;
  })();
  return parserPromise;
}

/** Built, the two .wasm files sit next to the bundles in dist/; from source they come from node_modules. */
function wasmDir(): { runtime: string; grammar: string } {
  if (typeof __POD_BUNDLE__ !== "undefined") {
    const dist = path.join(__dirname, "..");
    return { runtime: dist, grammar: path.join(dist, "tree-sitter-bash.wasm") };
  }
  const req = createRequire(fileURLToPath(import.meta.url));
  return {
    runtime: path.dirname(req.resolve("web-tree-sitter/web-tree-sitter.wasm")),
    grammar: req.resolve("tree-sitter-bash/tree-sitter-bash.wasm"),
  };
}

/** Parses a command (or, with `pattern`, an allow pattern where a bare final `*` is the wildcard). */
export async function parseCommand(text: string, opts: { pattern?: boolean } = {}): Promise<Parsed> {
  const parser = await bashParser();
  const tree = parser.parse(text);
  if (!tree) return { ok: false, why: "the command could not be parsed" };
  try {
    return readProgram(text, tree.rootNode, opts.pattern ?? false);
  } finally {
    tree.delete();
  }
}

class Refused extends Error {}
const refuse = (why: string): never => {
  throw new Refused(why);
};

function readProgram(text: string, root: NodeT, pattern: boolean): Parsed {
  if (root.hasError) return { ok: false, why: "the command is not valid shell syntax" };
  const covered: Array<[number, number]> = [];
  const shape: CommandShape = { commands: [], operators: [] };
  const cover = (n: NodeT) => covered.push([n.startIndex, n.endIndex]);
  try {
    const visit = (n: NodeT): void => {
      switch (n.type) {
        case "program":
        case "list":
        case "pipeline":
          for (const c of n.children) {
            if (!c) continue;
            if (c.isNamed) visit(c);
            else if (["|", "|&", "&&", "||", ";", "&"].includes(c.type)) {
              if (shape.operators.length >= shape.commands.length) refuse(`"${c.type}" has no command before it`);
              shape.operators.push(c.type);
              cover(c);
            } else refuse(`"${c.type}" is not allowed`);
          }
          return;
        case "command":
          shape.commands.push(readCommand(text, n, [], pattern, cover));
          return;
        case "redirected_statement": {
          const body = n.childForFieldName("body");
          if (!body || body.type !== "command") refuse(`redirecting a ${body?.type ?? "statement"} is not allowed`);
          const redirects: string[] = [];
          for (const c of n.children) {
            if (!c || c.id === body!.id) continue;
            if (c.type !== "file_redirect") refuse(describe(c));
            redirects.push(readRedirect(text, c, cover));
          }
          shape.commands.push(readCommand(text, body!, redirects, pattern, cover));
          return;
        }
        default:
          refuse(describe(n));
      }
    };
    visit(root);
  } catch (err) {
    if (err instanceof Refused) return { ok: false, why: err.message };
    throw err;
  }
  if (shape.commands.length === 0) return { ok: false, why: "the command is empty" };
  // Every byte must belong to something read above; what is left may only be spaces and tabs.
  covered.sort((a, b) => a[0] - b[0]);
  let at = 0;
  for (const [s, e] of covered) {
    if (s > at && !/^[ \t]*$/.test(text.slice(at, s))) return { ok: false, why: `unexpected text ${JSON.stringify(text.slice(at, s))} (one line, no line continuations)` };
    at = Math.max(at, e);
  }
  if (!/^[ \t]*$/.test(text.slice(at))) return { ok: false, why: `unexpected text ${JSON.stringify(text.slice(at))} (one line, no line continuations)` };
  return { ok: true, shape };
}

function describe(n: NodeT): string {
  const names: Record<string, string> = {
    command_substitution: "command substitution ($(…) or backticks)",
    process_substitution: "process substitution",
    arithmetic_expansion: "arithmetic expansion",
    expansion: "parameter expansion (${…})",
    simple_expansion: "variable expansion ($name)",
    heredoc_redirect: "here-documents",
    herestring_redirect: "here-strings",
    subshell: "subshells",
    compound_statement: "{ … } groups",
    function_definition: "function definitions",
    comment: "comments",
    variable_assignment: "variable assignments",
    ansi_c_string: "$'…' strings",
    translated_string: "$\"…\" strings",
  };
  return `${names[n.type] ?? n.type.replace(/_/g, " ")} ${names[n.type]?.endsWith("s") ? "are" : "is"} not allowed`;
}

function readCommand(text: string, n: NodeT, redirects: string[], pattern: boolean, cover: (n: NodeT) => void): SimpleCommand {
  const words: string[] = [];
  for (const c of n.children) {
    if (!c) continue;
    if (c.type === "command_name") {
      const inner = c.namedChildren.filter((x): x is NodeT => x !== null);
      if (inner.length !== 1) refuse("the command name is not a plain word");
      words.push(readWord(inner[0]!, false));
      cover(c);
    } else if (c.type === "file_redirect") {
      redirects.push(readRedirect(text, c, cover));
    } else if (c.isNamed) {
      words.push(readWord(c, pattern));
      cover(c);
    } else refuse(`"${c.type}" is not allowed`);
  }
  const star = words.indexOf(WILDCARD);
  if (star >= 0 && star !== words.length - 1) refuse("a * in a pattern may only be the last word of a command");
  if (words.length === 0 || words[0] === WILDCARD) refuse("a command needs a name");
  return { words, redirects };
}

function readRedirect(text: string, n: NodeT, cover: (n: NodeT) => void): string {
  let fd = "";
  let op = "";
  let dest: string | undefined;
  for (const c of n.children) {
    if (!c) continue;
    if (c.type === "file_descriptor") fd = c.text;
    else if (!c.isNamed) op += c.type;
    else if (dest === undefined && (c.type === "number" || c.type === "word" || c.type === "raw_string" || c.type === "string" || c.type === "concatenation"))
      dest = c.type === "number" ? c.text : readWord(c, false);
    else refuse(describe(c));
  }
  if (!/^(>|>>|<|>&|<&|&>|&>>|>\|)$/.test(op) || dest === undefined) refuse(`the redirection ${JSON.stringify(n.text)} is not allowed`);
  cover(n);
  return `${fd}${op} ${dest}`;
}

/** Characters a bare word may hold unescaped: none of them is special to bash in a word. */
const PLAIN = /^[A-Za-z0-9_\-./,:=+@%^\u0080-\uffff]$/;

/**
 * The literal value of one word, or a refusal. Our own reading of its text, not the
 * parse tree's: tree-sitter is lenient, so a word is accepted only when each
 * character is provably literal (quotes and backslashes are removed as bash would).
 */
function readWord(n: NodeT, pattern: boolean): string {
  switch (n.type) {
    case "word":
    case "number":
      if (pattern && n.text === "*") return WILDCARD;
      return readBare(n.text);
    case "raw_string":
      return n.text.slice(1, -1);
    case "string": {
      for (const c of n.namedChildren) if (c && c.type !== "string_content") refuse(describe(c));
      return readDoubleQuoted(n.text.slice(1, -1));
    }
    case "concatenation": {
      let out = "";
      for (const c of n.children) {
        if (!c) continue;
        if (!c.isNamed) refuse(`"${c.type}" is not allowed in a word`);
        out += readWord(c, false);
      }
      return out;
    }
    default:
      return refuse(describe(n));
  }
}

function readBare(s: string): string {
  let out = "";
  for (let i = 0; i < s.length; i++) {
    const ch = s[i]!;
    if (ch === "\\") {
      const next = s[i + 1];
      if (next === undefined || next === "\n") refuse("a trailing backslash or line continuation is not allowed");
      out += next;
      i++;
    } else if (ch === "#" && i > 0) out += ch;
    else if (PLAIN.test(ch)) out += ch;
    else refuse(`the unquoted character ${JSON.stringify(ch)} is not allowed (quote it if it is meant literally)`);
  }
  return out;
}

function readDoubleQuoted(s: string): string {
  let out = "";
  for (let i = 0; i < s.length; i++) {
    const ch = s[i]!;
    if (ch === "$" || ch === "`") refuse(`${JSON.stringify(ch)} inside double quotes is not allowed (use single quotes)`);
    if (ch === "\\") {
      const next = s[i + 1];
      if (next !== undefined && "$`\"\\".includes(next)) {
        out += next;
        i++;
        continue;
      }
      if (next === "\n") refuse("a line continuation is not allowed");
    }
    out += ch;
  }
  return out;
}

/** Whether a parsed command has exactly the shape of a parsed pattern (see the rule above). */
export function shapeMatches(cmd: CommandShape, pat: CommandShape): boolean {
  if (cmd.commands.length !== pat.commands.length) return false;
  if (cmd.operators.join(" ") !== pat.operators.join(" ")) return false;
  return cmd.commands.every((c, i) => {
    const p = pat.commands[i]!;
    if (c.redirects.join("\n") !== p.redirects.join("\n")) return false;
    const wild = p.words.at(-1) === WILDCARD;
    const fixed = wild ? p.words.slice(0, -1) : p.words;
    if (wild ? c.words.length <= fixed.length : c.words.length !== fixed.length) return false;
    return fixed.every((w, j) => c.words[j] === w);
  });
}

export interface AllowDecision {
  allowed: boolean;
  /** Why not, in words the model can act on. */
  why?: string;
}

/** An allowlist compiled once: the patterns parsed on first use. */
export class Allowlist {
  private compiled?: Promise<Array<{ pattern: string; parsed: Parsed }>>;
  constructor(readonly patterns: readonly string[]) {}

  private patternsParsed() {
    this.compiled ??= Promise.all(this.patterns.map(async (pattern) => ({ pattern, parsed: await parseCommand(pattern, { pattern: true }) })));
    return this.compiled;
  }

  /** Patterns that cannot be parsed (they never match), with the reason. */
  async invalidPatterns(): Promise<string[]> {
    return (await this.patternsParsed()).filter((p) => !p.parsed.ok).map((p) => `${JSON.stringify(p.pattern)}: ${(p.parsed as { why: string }).why}`);
  }

  async check(command: string): Promise<AllowDecision> {
    const parsed = await parseCommand(command);
    if (!parsed.ok) return { allowed: false, why: parsed.why };
    for (const p of await this.patternsParsed()) if (p.parsed.ok && shapeMatches(parsed.shape, p.parsed.shape)) return { allowed: true };
    return { allowed: false, why: "it matches none of the allowed commands" };
  }
}
