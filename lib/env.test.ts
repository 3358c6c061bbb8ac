import { describe, expect, it } from "vitest";
import { getEnv } from "./env";

describe("getEnv", () => {
  it("works with nothing configured: loopback, ./data, port 3000", () => {
    const env = getEnv({});
    expect(env).toMatchObject({ FIXLABEL_HOST: "127.0.0.1", FIXLABEL_PORT: 3000, importRoot: null });
    expect(env.dbPath.endsWith("data/fixlabel.sqlite")).toBe(true);
  });

  it("refuses to bind beyond loopback without an access token", () => {
    expect(() => getEnv({ FIXLABEL_HOST: "0.0.0.0" })).toThrow(/FIXLABEL_TOKEN: FIXLABEL_HOST=0.0.0.0 is reachable/);
    expect(() => getEnv({ FIXLABEL_HOST: "0.0.0.0", FIXLABEL_TOKEN: "short" })).toThrow(/at least 16 characters/);
    expect(getEnv({ FIXLABEL_HOST: "0.0.0.0", FIXLABEL_TOKEN: "a-long-enough-secret" }).FIXLABEL_TOKEN).toBe("a-long-enough-secret");
  });

  it("names the variable that is wrong", () => {
    expect(() => getEnv({ FIXLABEL_PORT: "http" })).toThrow(/FIXLABEL_PORT/);
    expect(() => getEnv({ FIXLABEL_MAX_IMAGE_PIXELS: "-5" })).toThrow(/FIXLABEL_MAX_IMAGE_PIXELS/);
  });

  it("parses FIXLABEL_ALLOWED_HOSTS into host entries and names a bad one", () => {
    expect(getEnv({}).FIXLABEL_ALLOWED_HOSTS).toEqual([]);
    expect(getEnv({ FIXLABEL_ALLOWED_HOSTS: "fixlabel.lan, 10.0.0.5:8443 ,[::1]" }).FIXLABEL_ALLOWED_HOSTS).toEqual([
      { hostname: "fixlabel.lan", port: null },
      { hostname: "10.0.0.5", port: 8443 },
      { hostname: "[::1]", port: null },
    ]);
    expect(() => getEnv({ FIXLABEL_ALLOWED_HOSTS: "fixlabel.lan,http://evil.example/" })).toThrow(/FIXLABEL_ALLOWED_HOSTS: "http:\/\/evil.example\/" is not a host name/);
    expect(() => getEnv({ FIXLABEL_ALLOWED_HOSTS: "*" })).toThrow(/FIXLABEL_ALLOWED_HOSTS/);
  });
});

