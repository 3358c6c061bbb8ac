/**
 * Who made a change, for label provenance. FixLabel has one shared access token, not user accounts,
 * so a person is "user" unless the client names itself (X-FixLabel-User, e.g. from a script).
 */
export function actorFromRequest(req: Request): string {
  const named = req.headers.get("x-fixlabel-user")?.trim();
  return named && named.length <= 100 && !/[\u0000-\u001f]/.test(named) ? named : "user";
}
