import { describe, expect, it } from "vitest";
import { noProxyMatches, normaliseProxy, proxyFor, proxyVariable } from "../../src/provider/upstream-proxy.js";

/**
 * NO_PROXY as curl reads it. The table is curl's own: tests/unit/unit1614.c (curl/curl,
 * the Curl_check_noproxy list, commit e64457c444791677d5b4ff248b452567c59af4e0), whose
 * rules are lib/noproxy.c and the --noproxy / NO_PROXY sections of curl.1 and
 * CURLOPT_NOPROXY(3). One row is left out: a blank-separated list ("localhost
 * .example.com"), which that version accepted with a warning and lib/noproxy.c at
 * 535b37950bbd no longer does (blanks without a comma end the list; the row below the
 * table pins that). Each row: host (as the URL gives it), NO_PROXY, bypass?
 */
const CURL_UNIT1614: [string, string, boolean][] = [
  ["www.example.com", "localhost,.example.com,.example.de", true],
  ["www.example.com.", "localhost,.example.com,.example.de", true],
  ["example.com", "localhost,.example.com,.example.de", true],
  ["example.com.", "localhost,.example.com,.example.de", true],
  ["www.example.com", "localhost,.example.com.,.example.de", true],
  ["www.example.com", "localhost,www.example.com.,.example.de", true],
  ["example.com", "localhost,example.com,.example.de", true],
  ["example.com.", "localhost,example.com,.example.de", true],
  ["nexample.com", "localhost,example.com,.example.de", false],
  ["www.example.com", "localhost,example.com,.example.de", true],
  ["127.0.0.1", "127.0.0.1,localhost", true],
  ["127.0.0.1", "127.0.0.1,localhost,", true],
  ["127.0.0.1", "127.0.0.1/8,localhost,", true],
  ["127.0.0.1", "127.0.0.1/28,localhost,", true],
  ["127.0.0.1", "127.0.0.1/31,localhost,", true],
  ["127.0.0.1", "localhost,127.0.0.1", true],
  ["127.0.0.1", "localhost,127.0.0.1.127.0.0.1.127.0.0.1.127.0.0.1.127.0.0.1.127.0.0.1.127.0.0.1.127.0.0.1.127.0.0.1.127.0.0.1.127.0.0.1.127.0.0.1.127.0.0.", false],
  ["127.0.0.1", "localhost,127.0.0.1.127.0.0.1.127.0.0.1.127.0.0.1.127.0.0.1.127.0.0.1.127.0.0.1.127.0.0.1.127.0.0.1.127.0.0.1.127.0.0.1.127.0.0.1.127.0.0", false],
  ["localhost", "localhost,127.0.0.1", true],
  ["localhost", "127.0.0.1,localhost", true],
  ["foobar", "barfoo", false],
  ["foobar", "foobar", true],
  ["192.168.0.1", "foobar", false],
  ["192.168.0.1", "192.168.0.0/16", true],
  ["192.168.0.1", "192.168.0.0/24", true],
  ["192.168.0.1", "192.168.0.0/32", false],
  ["192.168.0.1", "192.168.0.0", false],
  ["192.168.1.1", "192.168.0.0/24", false],
  ["192.168.1.1", "foo, bar, 192.168.0.0/24", false],
  ["192.168.1.1", "foo, bar, 192.168.0.0/16", true],
  ["[::1]", "foo, bar, 192.168.0.0/16", false],
  ["[::1]", "foo, bar, ::1/64", true],
  ["bar", "foo, bar, ::1/64", true],
  ["BAr", "foo, bar, ::1/64", true],
  ["BAr", "foo,,,,,              bar, ::1/64", true],
  ["www.example.com", "foo, .example.com", true],
  ["www.example.com", "www2.example.com, .example.net", false],
  ["example.com", ".example.com, .example.net", true],
  ["nonexample.com", ".example.com, .example.net", false],
];

describe("NO_PROXY: curl's own test table (unit1614.c)", () => {
  for (const [host, list, bypass] of CURL_UNIT1614) {
    it(`${host} with NO_PROXY=${list.length > 60 ? `${list.slice(0, 60)}…` : list}: ${bypass ? "direct" : "proxied"}`, () => {
      expect(noProxyMatches(host, list)).toBe(bypass);
    });
  }
});

describe("NO_PROXY: what curl's documentation says besides the table", () => {
  it("`*` alone matches everything; inside a list it is only a name", () => {
    expect(noProxyMatches("anything.example", "*")).toBe(true);
    expect(noProxyMatches("anything.example", "*,foo")).toBe(false);
  });
  it("the URL's port never matters; an entry with a port matches nothing (curl.1: local.com matches local.com:80)", () => {
    expect(proxyFor("http://local.com:80/x", { http_proxy: "p:1", NO_PROXY: "local.com" })).toBeUndefined();
    expect(proxyFor("https://www.local.com:8443/", { https_proxy: "p:1", NO_PROXY: "local.com" })).toBeUndefined();
    expect(proxyFor("https://www.notlocal.com/", { https_proxy: "p:1", NO_PROXY: "local.com" })).toBe("http://p:1");
    expect(proxyFor("http://local.com:8080/", { http_proxy: "p:1", NO_PROXY: "local.com:8080" })).toBe("http://p:1");
  });
  it("IP hosts match IP entries only, exactly or by CIDR: no suffix matching on addresses", () => {
    expect(noProxyMatches("10.1.2.3", "10.0.0.0/8")).toBe(true);
    expect(noProxyMatches("10.1.2.3", ".2.3")).toBe(false);
    expect(noProxyMatches("10.1.2.3", "10.")).toBe(false);
    expect(noProxyMatches("10.1.2.3", "2.3")).toBe(false);
    expect(noProxyMatches("[fe80::ab47:4396:55c9:8474]", "fe80::/64")).toBe(true);
    expect(noProxyMatches("[fe80::1]", "fe81::/16")).toBe(false);
    expect(noProxyMatches("[::1]", "[::1]")).toBe(false);
    expect(noProxyMatches("[::1]", "0:0::1")).toBe(true);
  });
  it("blanks without a comma end the list (lib/noproxy.c at 535b37950bbd)", () => {
    expect(noProxyMatches("localhost", "localhost .example.com")).toBe(true);
    expect(noProxyMatches("www.example.com", "localhost .example.com")).toBe(false);
  });
  it("NO_PROXY reaches the decision through proxyFor (lower case first, empty = unset)", () => {
    expect(proxyFor("https://api.anthropic.com", { HTTPS_PROXY: "p:1", no_proxy: "anthropic.com", NO_PROXY: "" })).toBeUndefined();
    expect(proxyFor("https://api.anthropic.com", { HTTPS_PROXY: "p:1", no_proxy: "other.com", NO_PROXY: "anthropic.com" })).toBe("http://p:1");
    expect(proxyFor("https://api.anthropic.com", { HTTPS_PROXY: "p:1", no_proxy: "", NO_PROXY: "anthropic.com" })).toBeUndefined();
    expect(proxyFor("https://10.0.0.5/", { HTTPS_PROXY: "p:1", NO_PROXY: "10.0.0.0/8" })).toBeUndefined();
  });
});

describe("which proxy, and what its URL means (curl.1 ENVIRONMENT, CURLOPT_PROXY)", () => {
  it("https URLs: https_proxy, HTTPS_PROXY, all_proxy, ALL_PROXY; http URLs: http_proxy only, never HTTP_PROXY", () => {
    expect(proxyVariable("https://x", { HTTPS_PROXY: "a", ALL_PROXY: "b" })?.name).toBe("HTTPS_PROXY");
    expect(proxyVariable("https://x", { ALL_PROXY: "b" })?.name).toBe("ALL_PROXY");
    expect(proxyVariable("https://x", { all_proxy: "c", ALL_PROXY: "b" })?.name).toBe("all_proxy");
    expect(proxyVariable("http://x", { HTTP_PROXY: "a" })).toBeUndefined();
    expect(proxyVariable("http://x", { HTTP_PROXY: "a", ALL_PROXY: "b" })?.name).toBe("ALL_PROXY");
    expect(proxyVariable("http://x", { http_proxy: "a" })?.name).toBe("http_proxy");
    expect(proxyVariable("http://x", { http_proxy: "", all_proxy: "b" })?.name).toBe("all_proxy");
    expect(proxyVariable("http://x", { https_proxy: "a" })).toBeUndefined();
  });
  it("a scheme-less proxy is http://; a missing port is 1080 (443 for an https proxy)", () => {
    expect(proxyFor("https://api.anthropic.com", { https_proxy: "proxy.corp:3128" })).toBe("http://proxy.corp:3128");
    expect(normaliseProxy("proxy.corp")).toBe("http://proxy.corp:1080");
    expect(normaliseProxy("http://proxy.corp:80")).toBe("http://proxy.corp:80");
    expect(normaliseProxy("https://proxy.corp")).toBe("https://proxy.corp:443");
    expect(normaliseProxy("user:pa%40ss@proxy.corp:3128")).toBe("http://user:pa%40ss@proxy.corp:3128");
    expect(normaliseProxy("[::1]:3128")).toBe("http://[::1]:3128");
    expect(normaliseProxy("HTTP://Proxy.Corp:3128/")).toBe("http://proxy.corp:3128");
  });
  it("a proxy pod cannot speak to, or no proxy at all, is a usage error naming the variable", () => {
    expect(() => proxyFor("https://x", { HTTPS_PROXY: "socks5://s:1080" })).toThrow(/HTTPS_PROXY=socks5:\/\/s:1080: pod speaks to http:\/\/ and https:\/\/ proxies/);
    expect(() => normaliseProxy("http://", "https_proxy")).toThrow(/https_proxy/);
    expect(() => normaliseProxy("http://user:secret@", "https_proxy")).not.toThrow(/secret/);
  });
});
