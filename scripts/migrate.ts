/** `npm run migrate`: applies the committed migrations to the configured database and exits. */
import { getDb } from "@/lib/db/client";
import { migrateDb } from "@/lib/db/migrate";
import { getEnv } from "@/lib/env";

const env = getEnv();
migrateDb(getDb());
console.log(`database ready: ${env.dbPath}`);
