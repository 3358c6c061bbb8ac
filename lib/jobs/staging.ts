import fsp from "node:fs/promises";
import path from "node:path";
import { eq } from "drizzle-orm";
import type { Db } from "@/lib/db/client";
import { jobs } from "@/lib/db/schema";
import { removeQuietly, stagingDir, stagingOwnerOf } from "@/lib/storage";

/** Files in no known naming form (older versions) are left alone this long: a request may still be writing one. */
export const UNOWNED_STAGING_GRACE_MS = 60 * 60 * 1000;

export type StagingCleanupOptions = {
  now?: number;
  /** Whether a process is alive (tests pass their own). */
  isAlive?: (pid: number) => boolean;
};

function processAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    // EPERM: it exists, owned by someone else.
    return (err as NodeJS.ErrnoException).code === "EPERM";
  }
}

/**
 * Removes the staging files that no live request or job owns: those of a dead process (a web
 * server or worker killed mid-upload or mid-import), those of an earlier attempt of a job (its
 * worker died and the job was taken over, or it ended), and archives of import.zip jobs that have
 * ended. Archives of queued or running import.zip jobs stay (the job will read them). Run at
 * start-up of the web server and the worker, and whenever a worker takes a job over.
 * Returns the names removed.
 */
export async function cleanStaging(db: Db, opts: StagingCleanupOptions = {}): Promise<string[]> {
  const now = opts.now ?? Date.now();
  const isAlive = opts.isAlive ?? processAlive;
  const dir = stagingDir();
  let names: string[];
  try {
    names = await fsp.readdir(dir);
  } catch {
    return [];
  }
  if (names.length === 0) return [];

  // Archives named by import.zip jobs: kept while the job may still run, removed once it ended.
  const archiveJobActive = new Map<string, boolean>();
  for (const job of db.select({ status: jobs.status, payload: jobs.payload }).from(jobs).where(eq(jobs.type, "import.zip")).all()) {
    const zipPath = (job.payload as { zipPath?: unknown }).zipPath;
    if (typeof zipPath !== "string") continue;
    const active = job.status === "queued" || job.status === "running";
    const key = path.resolve(zipPath);
    archiveJobActive.set(key, (archiveJobActive.get(key) ?? false) || active);
  }

  const removed: string[] = [];
  for (const name of names) {
    const full = path.join(dir, name);
    const referenced = archiveJobActive.get(path.resolve(full));
    let leftover: boolean;
    if (referenced !== undefined) {
      leftover = !referenced;
    } else {
      const owner = stagingOwnerOf(name);
      if (owner?.kind === "process") {
        leftover = owner.pid !== process.pid && !isAlive(owner.pid);
      } else if (owner?.kind === "job") {
        const job = db.select({ status: jobs.status, attempts: jobs.attempts }).from(jobs).where(eq(jobs.id, owner.jobId)).get();
        leftover = !job || job.status !== "running" || job.attempts !== owner.attempt;
      } else {
        const stat = await fsp.stat(full).catch(() => null);
        leftover = stat !== null && now - stat.mtimeMs > UNOWNED_STAGING_GRACE_MS;
      }
    }
    if (leftover) {
      await removeQuietly(full);
      removed.push(name);
    }
  }
  return removed;
}
