import net from "node:net";
import { afterEach, describe, expect, it } from "vitest";
import { bindProblem, hostnameFromArgv, isLoopbackAddress, listeningAddresses } from "./bind-check";

describe("bind check", () => {
  it("tells loopback addresses from the rest", () => {
    for (const a of ["127.0.0.1", "127.1.2.3", "::1", "[::1]", "::ffff:127.0.0.1", "localhost"]) expect(isLoopbackAddress(a), a).toBe(true);
    for (const a of ["0.0.0.0", "::", "192.168.1.2", "::ffff:10.0.0.1", "128.0.0.1", "localhost.evil"]) expect(isLoopbackAddress(a), a).toBe(false);
  });

  it("reads -H/--hostname from a next command line; none means every interface", () => {
    expect(hostnameFromArgv(["node", "/app/node_modules/.bin/next", "start", "-H", "127.0.0.1", "-p", "3000"])).toBe("127.0.0.1");
    expect(hostnameFromArgv(["node", "/app/node_modules/next/dist/bin/next", "start", "--hostname=0.0.0.0"])).toBe("0.0.0.0");
    expect(hostnameFromArgv(["node", "/app/node_modules/.bin/next", "start", "-p", "3000"])).toBe("0.0.0.0");
    expect(hostnameFromArgv(["node", "worker/main.ts"])).toBeNull();
  });

  it("refuses a non-loopback address without a token, and allows it with one", () => {
    expect(bindProblem(["127.0.0.1"], undefined)).toBeNull();
    expect(bindProblem(["::"], undefined)).toMatch(/listens on ::, reachable from other machines/);
    expect(bindProblem(["0.0.0.0"], undefined)).toMatch(/FIXLABEL_TOKEN is not set/);
    expect(bindProblem(["0.0.0.0"], "a-long-enough-secret")).toBeNull();
  });

  let server: net.Server | null = null;
  afterEach(() => new Promise<void>((r) => (server ? server.close(() => r()) : r())));

  it("finds the address a server in this process really listens on", async () => {
    server = net.createServer();
    await new Promise<void>((r) => server!.listen(0, "0.0.0.0", r));
    expect(listeningAddresses()).toContain("0.0.0.0");
    expect(bindProblem(listeningAddresses(), undefined)).toMatch(/0\.0\.0\.0/);
  });
});
