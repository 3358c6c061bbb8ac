import { describe, expect, it } from "vitest";
import { checkRequest, guardConfig, parseHostEntry, type GuardHeaders } from "./request-guard";

const local = guardConfig({ port: 3000, bindHost: "127.0.0.1", allowedHosts: [] });
const h = (host: string | null, origin: string | null = null, secFetchSite: string | null = null): GuardHeaders => ({ host, origin, secFetchSite });

describe("checkRequest: Host (DNS rebinding)", () => {
  it("accepts the loopback names with the app's port only", () => {
    for (const host of ["127.0.0.1:3000", "localhost:3000", "[::1]:3000", "LOCALHOST:3000"]) expect(checkRequest(h(host), true, local).ok, host).toBe(true);
    for (const host of ["evil.example:3000", "evil.example", "127.0.0.1:3001", "localhost", "127.0.0.1", "localhost.evil.example:3000", "127.0.0.1.nip.io:3000", "", "a b:3000", "user@127.0.0.1:3000", "127.0.0.1:3000/x"]) {
      const v = checkRequest(h(host), false, local);
      expect(v.ok, host).toBe(false);
      if (!v.ok) expect(v.status).toBe(403);
    }
    expect(checkRequest(h(null), false, local).ok).toBe(false);
  });

  it("accepts FIXLABEL_ALLOWED_HOSTS entries: without a port at the app's port or the default one, with a port exactly", () => {
    const cfg = guardConfig({ port: 3000, bindHost: "127.0.0.1", allowedHosts: [parseHostEntry("fixlabel.lan")!, parseHostEntry("10.0.0.5:8443")!] });
    expect(checkRequest(h("fixlabel.lan"), true, cfg).ok).toBe(true);
    expect(checkRequest(h("fixlabel.lan:3000"), true, cfg).ok).toBe(true);
    expect(checkRequest(h("fixlabel.lan:8080"), true, cfg).ok).toBe(false);
    expect(checkRequest(h("10.0.0.5:8443"), true, cfg).ok).toBe(true);
    expect(checkRequest(h("10.0.0.5:3000"), true, cfg).ok).toBe(false);
    expect(checkRequest(h("evil.fixlabel.lan:3000"), true, cfg).ok).toBe(false);
  });

  it("accepts a specific bind address with the app's port, not a wildcard one", () => {
    expect(checkRequest(h("192.168.1.20:3000"), true, guardConfig({ port: 3000, bindHost: "192.168.1.20", allowedHosts: [] })).ok).toBe(true);
    expect(checkRequest(h("[fe80::1]:3000"), true, guardConfig({ port: 3000, bindHost: "fe80::1", allowedHosts: [] })).ok).toBe(true);
    expect(checkRequest(h("0.0.0.0:3000"), true, guardConfig({ port: 3000, bindHost: "0.0.0.0", allowedHosts: [] })).ok).toBe(false);
  });

  it("parses host entries and refuses schemes, paths and wildcards", () => {
    expect(parseHostEntry("Fixlabel.LAN:8080")).toEqual({ hostname: "fixlabel.lan", port: 8080 });
    expect(parseHostEntry("[::1]")).toEqual({ hostname: "[::1]", port: null });
    for (const bad of ["http://x", "x/y", "*", "*.lan", "", "a b", "x:99999", "u@x"]) expect(parseHostEntry(bad), bad).toBeNull();
  });
});

describe("checkRequest: cross-site requests to the API", () => {
  const host = "127.0.0.1:3000";
  it("refuses a foreign, opaque or non-http Origin on API routes, whatever the method", () => {
    for (const origin of ["http://evil.example", "http://evil.example:3000", "null", "http://127.0.0.1:8080", "http://localhost", "file://", "chrome-extension://abc", "not a url", "http://127.0.0.1:3000.evil.example"]) {
      const v = checkRequest(h(host, origin), true, local);
      expect(v.ok, origin).toBe(false);
    }
  });

  it("refuses Sec-Fetch-Site cross-site and same-site (another port of localhost) on API routes", () => {
    expect(checkRequest(h(host, null, "cross-site"), true, local).ok).toBe(false);
    expect(checkRequest(h(host, null, "same-site"), true, local).ok).toBe(false);
    // A hostile page cannot fake Sec-Fetch-Site, but an Origin that matches does not excuse it either.
    expect(checkRequest(h(host, "http://127.0.0.1:3000", "cross-site"), true, local).ok).toBe(false);
  });

  it("accepts the app's own pages: same-origin fetches, <img> GETs without Origin, typed URLs, non-browser clients", () => {
    expect(checkRequest(h(host, "http://127.0.0.1:3000", "same-origin"), true, local).ok).toBe(true);
    expect(checkRequest(h("localhost:3000", "http://localhost:3000", "same-origin"), true, local).ok).toBe(true);
    expect(checkRequest(h(host, null, "same-origin"), true, local).ok).toBe(true);
    expect(checkRequest(h(host, null, "none"), true, local).ok).toBe(true);
    expect(checkRequest(h(host), true, local).ok).toBe(true);
  });

  it("lets a page be opened from a link on another site, but never with a foreign Host", () => {
    expect(checkRequest(h(host, null, "cross-site"), false, local).ok).toBe(true);
    expect(checkRequest(h("evil.example:3000", null, "same-origin"), false, local).ok).toBe(false);
  });

  it("accepts an https Origin of an allowed name behind a TLS proxy", () => {
    const cfg = guardConfig({ port: 3000, bindHost: "127.0.0.1", allowedHosts: [parseHostEntry("fixlabel.example.com")!] });
    expect(checkRequest(h("fixlabel.example.com", "https://fixlabel.example.com", "same-origin"), true, cfg).ok).toBe(true);
    expect(checkRequest(h("fixlabel.example.com", "https://evil.example.com", "cross-site"), true, cfg).ok).toBe(false);
  });
});
