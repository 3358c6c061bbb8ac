import { afterEach, describe, expect, it } from "vitest";
import { z } from "zod";
import { resetEnvCache } from "./env";
import { notFound } from "./errors";
import { apiRoute, parseJson } from "./http";

const ctx = { params: Promise.resolve({}) };
afterEach(() => {
  delete process.env.FIXLABEL_TOKEN;
  resetEnvCache();
});

describe("apiRoute", () => {
  const echo = apiRoute(async (req) => parseJson(req, z.object({ n: z.number().int() })));
  const post = (body: string, headers: Record<string, string> = {}) =>
    new Request("http://x/api", { method: "POST", body, headers: { "content-type": "application/json", ...headers } });

  it("returns 400 naming the field for a payload that fails validation, and for non-JSON", async () => {
    const res = await echo(post('{"n":"seven"}'), ctx);
    expect(res.status).toBe(400);
    expect((await res.json()).error).toMatchObject({ code: "bad_request", field: "n" });
    expect((await echo(post("{nope"), ctx)).status).toBe(400);
    expect(await (await echo(post('{"n":7}'), ctx)).json()).toEqual({ n: 7 });
  });

  it("maps typed errors to their status and hides unexpected ones", async () => {
    expect((await apiRoute(() => { throw notFound("image", 3); })(post("{}"), ctx)).status).toBe(404);
    const res = await apiRoute(() => { throw new Error("secret detail"); })(post("{}"), ctx);
    expect(res.status).toBe(500);
    expect(JSON.stringify(await res.json())).not.toContain("secret detail");
  });

  it("requires the token on every call once one is configured (header or cookie)", async () => {
    process.env.FIXLABEL_TOKEN = "0123456789abcdef-token";
    resetEnvCache();
    expect((await echo(post('{"n":1}'), ctx)).status).toBe(401);
    expect((await echo(post('{"n":1}', { authorization: "Bearer wrong-token-0123456" }), ctx)).status).toBe(401);
    expect((await echo(post('{"n":1}', { authorization: "Bearer 0123456789abcdef-token" }), ctx)).status).toBe(200);
    expect((await echo(post('{"n":1}', { cookie: "a=b; fixlabel_token=0123456789abcdef-token" }), ctx)).status).toBe(200);
  });
});
