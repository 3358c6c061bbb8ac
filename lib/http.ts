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

/**
 * The issue to name in the message. A union's own issue has no path ("Invalid input"); its branch
 * with the fewest issues is the one the client most likely meant, so its first issue is named.
 */
function mostSpecificIssue(issue: z.core.$ZodIssue | undefined): z.core.$ZodIssue | undefined {
  if (issue?.code !== "invalid_union" || issue.errors.length === 0) return issue;
  const branch = issue.errors.reduce((best, b) => (b.length > 0 && (best.length === 0 || b.length < best.length) ? b : best));
  const inner = mostSpecificIssue(branch[0]);
  return inner ? { ...inner, path: [...issue.path, ...inner.path] } : issue;
}

export function errorResponse(err: unknown): Response {
  if (err instanceof z.ZodError) {
    const issue = mostSpecificIssue(err.issues[0]);
    const field = issue?.path.join(".") || null;
    return Response.json(
      { error: { code: "bad_request", message: field ? `${field}: ${issue?.message}` : issue?.message, field, issues: err.issues } },
      { status: 400 },
    );
  }
  if (err instanceof AppError) {
    return Response.json({ error: { code: err.code, message: err.message, ...err.details } }, { status: err.status });
  }
  console.error(err);
  return Response.json({ error: { code: "internal", message: "internal error: see the server log" } }, { status: 500 });
}

/**
 * Parses a JSON body with a zod schema. Only a body sent as application/json is read (415
 * otherwise): a cross-site form or text/plain post cannot pass for JSON. A body that is not JSON is a 400.
 */
export async function parseJson<T extends z.ZodType>(req: Request, schema: T): Promise<z.infer<T>> {
  const mediaType = req.headers.get("content-type")?.split(";")[0].trim().toLowerCase();
  if (mediaType !== "application/json") {
    throw new AppError("unsupported_media", `send the body as JSON with Content-Type: application/json (got ${mediaType || "none"})`);
  }
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

/**
 * A handler for the methods a route does not serve: 405 with the allowed ones in the body and the
 * Allow header (Next.js' own 405 has an empty body). Export it under each such method name.
 */
export function methodNotAllowed(allowed: readonly string[]) {
  const list = allowed.join(", ");
  return async (req: Request): Promise<Response> =>
    Response.json(
      { error: { code: "method_not_allowed", message: `${req.method} is not allowed here; use ${list}`, allowed } },
      { status: 405, headers: { allow: list } },
    );
}
