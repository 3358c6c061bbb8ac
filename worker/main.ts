/**
 * The worker process: applies migrations, then claims and runs jobs until SIGTERM/SIGINT.
 * Started next to the web server by scripts/start.mjs; several may share one database.
 */
import { getDb } from "@/lib/db/client";
import { migrateDb } from "@/lib/db/migrate";
import { getEnv } from "@/lib/env";
import { cleanStaging } from "@/lib/jobs";
import { handlers } from "./handlers";
import { JobRunner } from "./runner";

async function main() {
  const env = getEnv();
  const db = getDb();
  migrateDb(db);
  // Files a killed web server or worker left in staging (no live owner) go now, before any job runs.
  const removed = await cleanStaging(db);
  if (removed.length) console.log(`[worker] removed ${removed.length} leftover staging file(s)`);
  const runner = new JobRunner({ db, handlers, leaseMs: env.FIXLABEL_JOB_LEASE_MS });
  let signals = 0;
  const shutdown = (signal: string) => {
    signals++;
    if (signals > 1) process.exit(1);
    console.log(`[worker] ${signal}: finishing the current step, then exiting`);
    runner.stop();
  };
  process.on("SIGTERM", () => shutdown("SIGTERM"));
  process.on("SIGINT", () => shutdown("SIGINT"));
  console.log(`[worker] ${runner.workerId} ready (data: ${env.dataDir})`);
  await runner.runForever();
  console.log("[worker] stopped");
  process.exit(0);
}

main().catch((err) => {
  console.error("[worker] fatal:", err instanceof Error ? err.message : err);
  process.exit(1);
});
