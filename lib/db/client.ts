import fs from "node:fs";
import path from "node:path";
import Database from "better-sqlite3";
import { drizzle, type BetterSQLite3Database } from "drizzle-orm/better-sqlite3";
import { getEnv } from "@/lib/env";
import * as schema from "./schema";

export type Db = BetterSQLite3Database<typeof schema> & { $client: Database.Database };

let cached: { db: Db; file: string } | null = null;

/** Opens a SQLite file with the settings every FixLabel process relies on. */
export function openDb(file: string): Db {
  fs.mkdirSync(path.dirname(file), { recursive: true });
  const sqlite = new Database(file);
  // WAL lets the web server read while the worker writes; busy_timeout makes a writer wait for
  // another process's lock instead of failing at once.
  sqlite.pragma("journal_mode = WAL");
  sqlite.pragma("busy_timeout = 10000");
  sqlite.pragma("foreign_keys = ON");
  sqlite.pragma("synchronous = NORMAL");
  const db = drizzle(sqlite, { schema }) as Db;
  // Transactions here write. A DEFERRED one starts as a reader and upgrades at its first write;
  // in WAL mode, if another process (the worker) committed in between, SQLite answers
  // SQLITE_BUSY at once instead of waiting busy_timeout. BEGIN IMMEDIATE takes the write lock up
  // front, so concurrent writers queue behind busy_timeout instead of failing.
  const transaction = db.transaction.bind(db);
  db.transaction = ((fn, config) => transaction(fn, { behavior: "immediate", ...config })) as Db["transaction"];
  return db;
}

/*
 * better-sqlite3 is synchronous and a connection has one transaction at a time, so inside
 * `db.transaction(() => ...)` plain `db` queries run in that transaction: query functions take
 * `db` and can be called both inside and outside one.
 */

/** The process-wide connection to the configured database (one per process, opened lazily). */
export function getDb(): Db {
  const file = getEnv().dbPath;
  if (cached && cached.file === file) return cached.db;
  cached?.db.$client.close();
  cached = { db: openDb(file), file };
  return cached.db;
}

export function closeDb(): void {
  cached?.db.$client.close();
  cached = null;
}
