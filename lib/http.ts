import { z } from "zod";
import { tokenAccepted, tokenFromRequest } from "@/lib/auth";
import { AppError, badRequest } from "@/lib/errors";

/**
 * The edge of every API route: checks the access token, turns typed errors into HTTP statuses and
 * zod failures into a 400 naming the field. Uses only Web Request/Response, no Next.js imports.
 */
type Ctx<P> = { params: Promise<P> };

export function apiRoute<P = Record<string, string>>(
  handler: (req: Request, params: P) => Promise<Response | unknown> | Response | unknown,
) {
  return async (req: Request, ctx: Ctx<P>): Promise<Response> => {
    try {
      if (!tokenAccepted(tokenFromRequest(req))) {
        throw new AppError("unauthorized", "a valid access token is required (Authorization: Bearer <FIXLABEL_TOKEN>)");
      }
      const out = await handler(req, (await ctx?.params) as P);
      return out instanceof Response ? out : Response.json(out ?? { ok: true });
    } catch (err) {
      return errorResponse(err);
    }
  };
}

export function errorResponse(err: unknown): Response {
  if (err instanceof z.ZodError) {
    const issue = err.issues[0];
    const field = issue?.path.join(".") || null;
    return Response.json(
      { error: { code: "bad_request", message: field ? `${field}: ${issue.message}` : issue?.message, field, issues: err.issues } },
      { status: 400 },
    );
  }
  if (err instanceof AppError) {
    return Response.json({ error: { code: err.code, message: err.message, ...err.details } }, { status: err.status });
  }
  console.error(err);
  return Response.json({ error: { code: "internal", message: "internal error: see the server log" } }, { status: 500 });
}

/** Parses a JSON body with a zod schema; a body that is not JSON is a 400 too. */
export async function parseJson<T extends z.ZodType>(req: Request, schema: T): Promise<z.infer<T>> {
  let body: unknown;
  try {
    body = await req.json();
  } catch {
    throw badRequest("the request body must be JSON");
  }
  return schema.parse(body);
}

/** Route params and query values are strings; ids must be positive integers. */
export const idParam = z.coerce.number().int().positive();

export function parseId(value: string | undefined, what: string): number {
  const r = idParam.safeParse(value);
  if (!r.success) throw badRequest(`${what} must be a positive integer`, { field: what });
  return r.data;
}

export function parseQuery<T extends z.ZodType>(req: Request, schema: T): z.infer<T> {
  return schema.parse(Object.fromEntries(new URL(req.url).searchParams));
}
