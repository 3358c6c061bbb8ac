export { getDb, openDb, closeDb, type Db } from "./client";
export { migrateDb } from "./migrate";
export * as schema from "./schema";
