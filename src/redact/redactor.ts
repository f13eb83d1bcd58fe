import { DEFAULT_SECRET_NAMES, PROVIDER_SECRET_NAMES } from "./secret-names.js";

/**
 * src/redact/ — secrets never leave through pod (SPEC "Containment"). One `Redactor` is
 * made at start from the environment and the manifest's `[pod] secrets`, and passed to
 * every boundary where text leaves pod: the event sink, the session store, the request
 * builder, hook input, the -o file (and later the run recorder). No global state: a
 * Redactor is a plain value. May import nothing but ./secret-names.js.
 */
export const REDACTED = "[redacted]";

/**
 * Shorter values are not redacted: "true", "1234" or a 6-letter word occur in ordinary
 * text, and replacing them everywhere would corrupt tool output and file contents while
 * protecting little (a value that short is guessable anyway). docs/security.md says so.
 */
export const MIN_SECRET_LENGTH = 8;

export class Redactor {
  /** The secret values, longest first (a secret that contains another is replaced whole). */
  private readonly secrets: readonly string[];
  private readonly bytes: readonly Buffer[];
  /** False when there is nothing to redact: every method is then a no-op that returns its input. */
  readonly active: boolean;

  private constructor(values: Iterable<string>) {
    const set = new Set<string>();
    for (const raw of values) {
      for (const v of [raw, raw.trim()]) if (v.length >= MIN_SECRET_LENGTH) set.add(v);
      // A multi-line value (a PEM key) is also redacted line by line: tools print lines.
      if (raw.includes("\n")) for (const line of raw.split(/\r?\n/)) if (line.trim().length >= MIN_SECRET_LENGTH) set.add(line.trim());
    }
    this.secrets = [...set].sort((a, b) => b.length - a.length);
    this.bytes = this.secrets.map((s) => Buffer.from(s, "utf8"));
    this.active = this.secrets.length > 0;
  }

  /** Redacts nothing. */
  static none(): Redactor {
    return new Redactor([]);
  }

  /** Redacts exactly these values (tests, and callers that hold secrets of their own). */
  static of(values: Iterable<string>): Redactor {
    return new Redactor(values);
  }

  /**
   * The run's Redactor: the values of `names` (the manifest's `[pod] secrets`, default
   * DEFAULT_SECRET_NAMES) plus the provider credentials, from `env`. Unset and short
   * values are skipped.
   */
  static fromEnv(env: NodeJS.ProcessEnv, names: readonly string[] = DEFAULT_SECRET_NAMES): Redactor {
    const values: string[] = [];
    for (const name of new Set([...PROVIDER_SECRET_NAMES, ...names])) {
      const v = env[name];
      if (v !== undefined) values.push(v);
    }
    return new Redactor(values);
  }

  /** How many distinct values are redacted (never the values themselves). */
  get size(): number {
    return this.secrets.length;
  }

  /** The text with every secret replaced by [redacted]; the same string when there is none. */
  text(s: string): string {
    if (!this.active) return s;
    let out = s;
    for (const secret of this.secrets) if (out.includes(secret)) out = out.split(secret).join(REDACTED);
    return out;
  }

  /**
   * A JSON-like value (an event body, a message, a hook's input) with every string in it
   * — keys too — redacted. Returns the value itself when nothing in it is secret, so the
   * common case allocates nothing.
   */
  value<T>(v: T): T {
    if (!this.active) return v;
    return this.walk(v, 0) as T;
  }

  /** Whether the bytes hold any secret (a session file being loaded: redact it only then). */
  foundIn(buf: Buffer): boolean {
    return this.active && this.bytes.some((b) => buf.includes(b));
  }

  private walk(v: unknown, depth: number): unknown {
    if (typeof v === "string") return this.text(v);
    if (v === null || typeof v !== "object" || depth > 64) return v;
    if (Array.isArray(v)) {
      let copy: unknown[] | undefined;
      for (let i = 0; i < v.length; i++) {
        const r = this.walk(v[i], depth + 1);
        if (r !== v[i]) (copy ??= v.slice())[i] = r;
      }
      return copy ?? v;
    }
    // Buffers, dates and other class instances are not JSON data: passed on as they are.
    const proto = Object.getPrototypeOf(v);
    if (proto !== Object.prototype && proto !== null) return v;
    let copy: Record<string, unknown> | undefined;
    const obj = v as Record<string, unknown>;
    for (const key of Object.keys(obj)) {
      const value = obj[key];
      const r = this.walk(value, depth + 1);
      const k = this.text(key);
      if (r !== value || k !== key) {
        if (!copy) {
          // Rebuilt in key order, so JSON.stringify of the copy keeps the original's order.
          copy = {};
          for (const k2 of Object.keys(obj)) {
            if (k2 === key) break;
            copy[k2] = obj[k2];
          }
        }
        copy[k] = r;
      } else if (copy) copy[key] = value;
    }
    return copy ?? v;
  }
}

/** Anything shaped like an Anthropic API key, whether or not it is this run's (provider error messages). */
export function redactKeyShapes(text: string): string {
  return text.replace(/sk-ant-[A-Za-z0-9_-]+/g, REDACTED);
}
