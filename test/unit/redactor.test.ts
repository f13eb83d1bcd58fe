import { mkdtemp, readFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import path from "node:path";
import { describe, expect, it } from "vitest";
import { EventSink } from "../../src/events/sink.js";
import { redact } from "../../src/provider/errors.js";
import { MIN_SECRET_LENGTH, REDACTED, Redactor } from "../../src/redact/redactor.js";
import { DEFAULT_SECRET_NAMES } from "../../src/redact/secret-names.js";
import { textMessage } from "../../src/conversation/messages.js";
import { SessionStore } from "../../src/store/session-store.js";

describe("Redactor", () => {
  it("replaces every occurrence, longest secret first, and leaves short values alone", () => {
    const r = Redactor.of(["abcdefgh", "abcdefgh-longer", "short"]);
    expect(r.text("x abcdefgh-longer y abcdefgh z short")).toBe(`x ${REDACTED} y ${REDACTED} z short`);
    expect("short".length).toBeLessThan(MIN_SECRET_LENGTH);
  });

  it("is a no-op (same references) when there is nothing to redact", () => {
    const none = Redactor.fromEnv({});
    expect(none.active).toBe(false);
    const v = { a: ["x"] };
    expect(none.value(v)).toBe(v);
    const r = Redactor.of(["secret-value-1"]);
    expect(r.value(v)).toBe(v);
  });

  it("redacts strings deep in a value, keys included, keeping key order", () => {
    const r = Redactor.of(["secret-value-1"]);
    const v = { first: 1, input: { cmd: "echo secret-value-1", list: ["ok", "secret-value-1"] }, "secret-value-1": true, last: 2 };
    const out = r.value(v);
    expect(JSON.stringify(out)).toBe(JSON.stringify({ first: 1, input: { cmd: `echo ${REDACTED}`, list: ["ok", REDACTED] }, [REDACTED]: true, last: 2 }));
    expect(v.input.cmd).toBe("echo secret-value-1");
  });

  it("takes the provider credential always, [pod] secrets (or the defaults) for the rest; a multi-line value line by line", () => {
    const env = { ANTHROPIC_API_KEY: "sk-ant-real-key-123", GITHUB_TOKEN: "ghs_token_value", MINE: "my-own-secret", PEM: "-----BEGIN KEY-----\nMIIEvQIBADANBgkqhkiG9w0\n-----END KEY-----" };
    expect(Redactor.fromEnv(env).text("sk-ant-real-key-123 ghs_token_value my-own-secret")).toBe(`${REDACTED} ${REDACTED} my-own-secret`);
    expect(Redactor.fromEnv(env, ["MINE", "PEM"]).text("sk-ant-real-key-123 ghs_token_value my-own-secret MIIEvQIBADANBgkqhkiG9w0")).toBe(`${REDACTED} ghs_token_value ${REDACTED} ${REDACTED}`);
    expect(DEFAULT_SECRET_NAMES).toContain("NPM_TOKEN");
  });

  it("provider errors still lose anything shaped like a key (model.ts redact delegates here)", () => {
    expect(redact("bad key sk-ant-api03-XYZ and tok-123456789", { ANTHROPIC_AUTH_TOKEN: "tok-123456789" })).toBe(`bad key ${REDACTED} and ${REDACTED}`);
  });
});

describe("the boundaries use it", () => {
  it("the event sink redacts every body, not the envelope", () => {
    const lines: string[] = [];
    const sink = new EventSink({ kind: "lines", line: (json) => lines.push(json) }, null, Redactor.of(["hunter2-secret"]));
    sink.emit("text_delta", { text: "pw hunter2-secret" });
    sink.emit("tool_call_done", { id: "t", name: "Bash", input: { command: "echo hunter2-secret" } });
    expect(lines.join("\n")).not.toContain("hunter2-secret");
    expect(JSON.parse(lines[0]!)).toMatchObject({ type: "text_delta", text: `pw ${REDACTED}` });
  });

  it("the session store writes and keeps redacted messages, and redacts an old session as it loads", async () => {
    const dir = await mkdtemp(path.join(tmpdir(), "pod-redact-"));
    const plain = await SessionStore.create(dir);
    await plain.append(textMessage("user", "token hunter2-secret"), 1);
    await plain.close();
    const file = plain.file;
    expect(await readFile(file, "utf8")).toContain("hunter2-secret");

    const redactor = Redactor.of(["hunter2-secret"]);
    const store = await SessionStore.openForAppend(dir, plain.id, { redactor });
    expect(JSON.stringify(store.messages())).not.toContain("hunter2-secret");
    await store.append(textMessage("assistant", "it is hunter2-secret"), 1);
    await store.close();
    const lines = (await readFile(file, "utf8")).trim().split("\n");
    expect(lines.at(-1)).not.toContain("hunter2-secret");
    expect(lines.at(-1)).toContain(REDACTED);
  });
});
