import { timingSafeEqual } from "node:crypto";
import { getEnv } from "@/lib/env";

export const TOKEN_COOKIE = "fixlabel_token";

function sameSecret(a: string, b: string): boolean {
  const x = Buffer.from(a);
  const y = Buffer.from(b);
  return x.length === y.length && timingSafeEqual(x, y);
}

/** True when no token is configured (loopback only), or when the given token matches it. */
export function tokenAccepted(given: string | null | undefined): boolean {
  const expected = getEnv().FIXLABEL_TOKEN;
  if (!expected) return true;
  return typeof given === "string" && sameSecret(given, expected);
}

/** The token a request carries: "Authorization: Bearer …" or the login cookie. */
export function tokenFromRequest(req: Request): string | null {
  const auth = req.headers.get("authorization");
  if (auth?.startsWith("Bearer ")) return auth.slice("Bearer ".length).trim();
  const cookie = req.headers.get("cookie") ?? "";
  for (const part of cookie.split(";")) {
    const [k, ...v] = part.trim().split("=");
    if (k === TOKEN_COOKIE) return decodeURIComponent(v.join("="));
  }
  return null;
}
