import { afterEach, describe, expect, it } from "vitest";
import { z } from "zod";
import { resetEnvCache } from "./env";
import { notFound } from "./errors";
import { apiRoute, methodNotAllowed, parseJson } from "./http";

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

describe("JSON bodies", () => {
  const echo = apiRoute(async (req) => parseJson(req, z.object({ n: z.number().int() })));
  const send = (contentType: string | null) =>
    new Request("http://x/api", { method: "POST", body: '{"n":1}', headers: contentType ? { "content-type": contentType } : {} });

  it("reads JSON only from application/json: text/plain, forms and no type get 415", async () => {
    for (const type of ["text/plain", "text/plain;charset=UTF-8", "application/x-www-form-urlencoded", "multipart/form-data; boundary=x", null]) {
      const res = await echo(send(type), ctx);
      expect(res.status, String(type)).toBe(415);
      expect((await res.json()).error.code).toBe("unsupported_media");
    }
    expect((await echo(send("application/json; charset=utf-8"), ctx)).status).toBe(200);
    expect((await echo(send("Application/JSON"), ctx)).status).toBe(200);
  });

  it("names the field of a union's closest branch instead of 'Invalid input'", async () => {
    const union = z.union([
      z.object({ runId: z.number(), imageIds: z.array(z.number()) }).strict(),
      z.object({ runId: z.number(), classId: z.number(), minConfidence: z.number() }).strict(),
    ]);
    const route = apiRoute(async (req) => parseJson(req, z.object({ input: union })));
    const body = JSON.stringify({ input: { runId: 1, imageIds: ["a"] } });
    const res = await route(new Request("http://x/api", { method: "POST", body, headers: { "content-type": "application/json" } }), ctx);
    expect(res.status).toBe(400);
    const error = (await res.json()).error;
    expect(error.field).toBe("input.imageIds.0");
    expect(error.message).toMatch(/^input\.imageIds\.0: /);
  });
});

describe("methodNotAllowed", () => {
  it("answers 405 with the allowed methods in the body and the Allow header", async () => {
    const res = await methodNotAllowed(["GET", "POST"])(new Request("http://x/api/projects", { method: "PUT" }));
    expect(res.status).toBe(405);
    expect(res.headers.get("allow")).toBe("GET, POST");
    expect((await res.json()).error).toMatchObject({ code: "method_not_allowed", allowed: ["GET", "POST"], message: "PUT is not allowed here; use GET, POST" });
  });
});
