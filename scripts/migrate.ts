/** `npm run migrate`: applies the committed migrations to the configured database and exits. */
import { getDb } from "@/lib/db/client";
import { migrateDb } from "@/lib/db/migrate";
import { getEnv } from "@/lib/env";

try {
  const env = getEnv();
  migrateDb(getDb());
  console.log(`database ready: ${env.dbPath}`);
} catch (err) {
  // A configuration mistake is the usual cause: print the message, not a stack trace.
  console.error(err instanceof Error ? err.message : err);
  process.exit(1);
}
