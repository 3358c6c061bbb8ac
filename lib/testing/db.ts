import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { closeDb, getDb, type Db } from "@/lib/db/client";
import { migrateDb } from "@/lib/db/migrate";
import { resetEnvCache } from "@/lib/env";

/**
 * A real SQLite file in a fresh temporary data folder, with the committed migrations applied.
 * Points FIXLABEL_DATA_DIR at it so code that calls getEnv()/getDb() uses it too.
 */
export function makeTestDb(): { db: Db; dataDir: string; cleanup: () => void } {
  const dataDir = fs.mkdtempSync(path.join(os.tmpdir(), "fixlabel-test-"));
  process.env.FIXLABEL_DATA_DIR = dataDir;
  resetEnvCache();
  closeDb();
  const db = getDb();
  migrateDb(db);
  return {
    db,
    dataDir,
    cleanup: () => {
      closeDb();
      fs.rmSync(dataDir, { recursive: true, force: true });
    },
  };
}
