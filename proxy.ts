import { NextResponse, type NextRequest } from "next/server";
import { getEnv } from "@/lib/env";
import { checkRequest, guardConfig } from "@/lib/request-guard";

/**
 * The one place every request passes before a page or route runs: refuses unexpected Host names
 * (DNS rebinding) everywhere, and cross-site requests to the API (see lib/request-guard.ts).
 */
export function proxy(request: NextRequest) {
  const env = getEnv();
  // `next start` puts the port it really listens on in PORT; FIXLABEL_PORT is what npm start asked for.
  const port = Number(process.env.PORT) || env.FIXLABEL_PORT;
  const verdict = checkRequest(
    {
      host: request.headers.get("host"),
      origin: request.headers.get("origin"),
      secFetchSite: request.headers.get("sec-fetch-site"),
    },
    request.nextUrl.pathname.startsWith("/api/"),
    guardConfig({ port, bindHost: env.FIXLABEL_HOST, allowedHosts: env.FIXLABEL_ALLOWED_HOSTS }),
  );
  if (!verdict.ok) {
    return NextResponse.json({ error: { code: verdict.code, message: verdict.message } }, { status: verdict.status });
  }
  return NextResponse.next();
}

export const config = {
  // Static build assets carry no data; everything else (pages, API, images) is checked.
  matcher: ["/((?!_next/static/).*)"],
};
