import { z } from "zod";
import { TOKEN_COOKIE, tokenAccepted } from "@/lib/auth";
import { AppError } from "@/lib/errors";
import { errorResponse, parseJson } from "@/lib/http";

const body = z.object({ token: z.string().min(1).max(1000) });

/** Exchanges the access token for an httpOnly cookie, so images and pages load without a header. */
export async function POST(req: Request): Promise<Response> {
  try {
    const { token } = await parseJson(req, body);
    if (!tokenAccepted(token)) throw new AppError("unauthorized", "that token is not the one this server was started with");
    const secure = new URL(req.url).protocol === "https:" ? "; Secure" : "";
    return Response.json(
      { ok: true },
      { headers: { "set-cookie": `${TOKEN_COOKIE}=${encodeURIComponent(token)}; Path=/; HttpOnly; SameSite=Strict; Max-Age=31536000${secure}` } },
    );
  } catch (err) {
    return errorResponse(err);
  }
}
