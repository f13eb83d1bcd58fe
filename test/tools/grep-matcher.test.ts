import { describe, expect, it } from "vitest";
import { compileMatcher, fileMatches, requiredLiteral, type Matcher } from "../../src/tools/grep-matcher.js";

describe("requiredLiteral", () => {
  it("finds a literal every match must contain, conservatively", () => {
    expect(requiredLiteral("pod_needle")).toBe("pod_needle");
    expect(requiredLiteral("fn_[0-9]{4}_xyz")).toBe("_xyz");
    expect(requiredLiteral("foo\\.bar")).toBe("foo.bar");
    expect(requiredLiteral("colou?r")).toBe("colo");
    expect(requiredLiteral("ab+c")).toBe("ab");
    expect(requiredLiteral("a|b")).toBeUndefined();
    expect(requiredLiteral("(foo|bar)baz")).toBeUndefined(); // any alternation gives up
    expect(requiredLiteral("\\d+")).toBeUndefined();
    expect(requiredLiteral("x*")).toBeUndefined();
  });

  it("never makes the prefilter reject a file the regex would match", () => {
    const cases: [string, string][] = [
      ["fn_[0-9]{4}_xyz", "call fn_1234_xyz()"],
      ["colou?r", "color"],
      ["ab+c", "abbbc"],
      ["foo\\.bar", "foo.bar"],
      ["(foo|bar)baz", "barbaz"],
      ["x{2}y", "xxy"],
    ];
    for (const [pattern, text] of cases) {
      const m = compileMatcher(pattern, false) as Matcher;
      expect(fileMatches(Buffer.from(text), m), pattern).toBe(true);
    }
  });

  it("decodes UTF-8 where latin1 would change the answer", () => {
    const dot = compileMatcher("a.b", false) as Matcher;
    expect(dot.latin1Safe).toBe(false);
    expect(fileMatches(Buffer.from("aéb"), dot)).toBe(true);
    const ci = compileMatcher("needlecase", true) as Matcher;
    expect(ci.latin1Safe).toBe(true);
    expect(fileMatches(Buffer.from("ünïcode NEEDLECASE here"), ci)).toBe(true);
    expect(fileMatches(Buffer.from("needle\0case binary needlecase"), ci)).toBe(false);
  });
});
