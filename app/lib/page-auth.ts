import { cookies } from "next/headers";
import { redirect } from "next/navigation";
import { TOKEN_COOKIE, tokenAccepted } from "@/lib/auth";

/**
 * Pages check the access token too (API routes do it in apiRoute): with FIXLABEL_TOKEN set, a
 * visitor without the login cookie is sent to /login. Reading cookies also makes the page dynamic.
 */
export async function requirePageToken(returnTo: string): Promise<void> {
  const jar = await cookies();
  if (!tokenAccepted(jar.get(TOKEN_COOKIE)?.value)) redirect(`/login?next=${encodeURIComponent(returnTo)}`);
}
