import path from "node:path";
import { migrate } from "drizzle-orm/better-sqlite3/migrator";
import type { Db } from "./client";

const MIGRATIONS_DIR = path.join(/* turbopackIgnore: true */ process.cwd(), "drizzle");

/**
 * Applies the committed migrations. The web server and the worker both call this at start-up;
 * if both start at once, one of them fails on "already exists" after the other committed, and a
 * retry then finds nothing left to apply.
 */
export function migrateDb(db: Db, migrationsFolder = MIGRATIONS_DIR): void {
  for (let attempt = 1; ; attempt++) {
    try {
      migrate(db, { migrationsFolder });
      return;
    } catch (err) {
      if (attempt >= 5) throw err;
      // Start-up only: a short synchronous sleep keeps this callable from sync code.
      Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, 100 * attempt);
    }
  }
}
