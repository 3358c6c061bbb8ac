/** Runs once when the Next.js server starts: validate the environment and apply migrations. */
export async function register() {
  if (process.env.NEXT_RUNTIME !== "nodejs") return;
  const { getEnv } = await import("@/lib/env");
  const { getDb } = await import("@/lib/db/client");
  const { migrateDb } = await import("@/lib/db/migrate");
  getEnv();
  migrateDb(getDb());
}
