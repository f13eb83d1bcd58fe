/**
 * People's output is inert (SPEC "Containment"): text the model wrote, or that came
 * from a tool, a file name or a hook, is shown to people without letting it drive
 * their terminal or their CI. Used by pretty output (pretty.ts); the Action's
 * summaries are meant to use it too. Pure, no imports.
 *
 * What it removes:
 * - escape sequences: CSI (`ESC [ … final`, colours, cursor moves, screen clears),
 *   OSC (`ESC ] … BEL|ST`: titles, hyperlinks, OSC 52 clipboard writes), DCS/SOS/PM/APC
 *   strings, and every other `ESC x`;
 * - the C1 controls U+0080–U+009F, with the strings the 8-bit CSI/OSC/DCS introduce;
 * - every other C0 control and DEL, except newline and tab. A carriage return becomes
 *   a newline (`\r\n` one newline), so a line cannot be overwritten by the next one.
 *
 * What it neutralises: CI workflow commands, by a zero-width space (U+200B) put in
 * after their first character, so the text still reads the same but the runner no
 * longer sees a command — at a line start (after any Unicode blanks, as the runner's
 * TrimStart reads it): GitHub's `::name…::`, TeamCity's `##teamcity[`; anywhere in a
 * line: the legacy `##[…]` (GitHub's runner finds it with IndexOf) and Azure's `##vso[`.
 */
export const MARK = "\u200b";

// The ESC-introduced strings first (longest forms), then C1-introduced ones, then lone controls.
const CONTROLS = new RegExp(
  [
    "\\x1b\\[[\\x30-\\x3f]*[\\x20-\\x2f]*[\\x40-\\x7e]?", // CSI; an unterminated one is dropped too
    "\\x1b\\][^\\x07\\x1b\\x9c]*(?:\\x07|\\x1b\\\\|\\x9c)?", // OSC … BEL | ST
    "\\x1b[PX^_][^\\x1b\\x9c]*(?:\\x1b\\\\|\\x9c)?", // DCS, SOS, PM, APC … ST
    "\\x1b[\\x20-\\x2f]*[\\x30-\\x7e]?", // any other escape (ESC c, ESC 7, ESC ( B …)
    "\\x9b[\\x30-\\x3f]*[\\x20-\\x2f]*[\\x40-\\x7e]?", // 8-bit CSI
    "[\\x9d\\x90\\x98\\x9e\\x9f][^\\x07\\x1b\\x9c]*(?:\\x07|\\x1b\\\\|\\x9c)?", // 8-bit OSC, DCS, SOS, PM, APC
    "[\\x00-\\x08\\x0b\\x0c\\x0e-\\x1f\\x7f\\x80-\\x9f]", // the rest, but \t \n \r
  ].join("|"),
  "g",
);

/**
 * At a line start, after any blanks: GitHub's runner TrimStart()s a line (every Unicode
 * white space, not only spaces and tabs) before it looks for "::" (actions/runner,
 * ActionCommand.cs).
 */
const LINE_COMMAND = /(^|\n)([^\S\n]*)(::|##teamcity\[)/g;
/** Anywhere in a line: the runner's legacy "##[" is found with IndexOf, and so is Azure's "##vso[". */
const ANYWHERE_COMMAND = /##\[|##vso\[/g;
/** What a piece may end with that the next piece could turn into an anywhere-command. */
const ANYWHERE_PREFIX = /#(?:#(?:v(?:s(?:o)?)?)?)?$/;

function neutralise(token: string): string {
  return token[0] + MARK + token.slice(1);
}

/** `text` made inert; its start counts as a line start. */
export function inertText(text: string): string {
  // Fast path: nothing to do for plain text (the common case).
  if (!/[\x00-\x08\x0b-\x1f\x7f-\x9f]|::|##/.test(text)) return text;
  return text
    .replace(CONTROLS, "")
    .replace(/\r\n?/g, "\n")
    .replace(LINE_COMMAND, (_m, nl: string, blanks: string, token: string) => nl + blanks + neutralise(token))
    .replace(ANYWHERE_COMMAND, (t) => neutralise(t));
}

/** Every string in a JSON-like value made inert (objects and arrays copied). */
export function inertValue<T>(value: T): T {
  if (typeof value === "string") return inertText(value) as T;
  if (Array.isArray(value)) return value.map(inertValue) as T;
  if (value !== null && typeof value === "object") {
    const out: Record<string, unknown> = {};
    for (const [k, v] of Object.entries(value)) out[inertText(k)] = inertValue(v);
    return out as T;
  }
  return value;
}

/** The longest text held back at a line start while it may still become a command. */
const PREFIXES = ["::", "##teamcity["];

/**
 * The same, for text that streams in pieces (the model's text deltas): a command can be
 * split across deltas ("…\n:" then ":error::"), and so can `\r\n`. Holds back only the
 * start of a line while it could still become a command, and at most a line's blanks
 * plus 11 characters; `flush()` gives back what is held when the stream pauses.
 */
export class InertStream {
  private held = "";
  private atLineStart = true;
  private lastWasCr = false;
  /** What is held was cut mid-line (an anywhere-command's start), not at a line start. */
  private midLine = false;

  push(piece: string): string {
    let text = piece.replace(CONTROLS, "");
    if (this.lastWasCr && text.startsWith("\n")) text = text.slice(1);
    this.lastWasCr = text.endsWith("\r");
    text = text.replace(/\r\n?/g, "\n");
    const heldMidLine = this.midLine;
    text = this.held + text;
    this.held = "";
    this.midLine = false;
    if (text === "") return "";
    // The start of text is a line start only if the stream was at one.
    let out = this.atLineStart && !heldMidLine ? inertText(text) : inertTail(text);
    // Hold back an unfinished line start that could still become a command.
    const lastNl = out.lastIndexOf("\n");
    const lineStartsHere = lastNl >= 0 || this.atLineStart;
    const tail = lastNl >= 0 ? out.slice(lastNl + 1) : out;
    if (lineStartsHere && couldBecomeCommand(tail)) {
      this.held = tail;
      out = out.slice(0, out.length - tail.length);
      this.atLineStart = true;
      return out;
    }
    this.atLineStart = out.endsWith("\n") || (out === "" && this.atLineStart);
    // "…##" then "[group]…": hold back the end that the next piece could make a command of.
    const cut = ANYWHERE_PREFIX.exec(out);
    if (cut) {
      this.held = cut[0];
      this.midLine = true;
      out = out.slice(0, cut.index);
    }
    return out;
  }

  flush(): string {
    const held = this.held;
    this.held = "";
    this.midLine = false;
    if (held) this.atLineStart = false;
    return held;
  }
}

/** inertText for text whose start is mid-line. */
function inertTail(text: string): string {
  const nl = text.indexOf("\n");
  const head = text.slice(0, nl < 0 ? text.length : nl).replace(ANYWHERE_COMMAND, (t) => neutralise(t));
  return nl < 0 ? head : head + inertText(text.slice(nl));
}

function couldBecomeCommand(line: string): boolean {
  const rest = line.replace(/^[^\S\n]*/, "");
  if (rest.length === 0) return line.length > 0 && line.length < 64;
  return PREFIXES.some((p) => rest.length < p.length && p.startsWith(rest));
}
