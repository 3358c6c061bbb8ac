import type { Db } from "@/lib/db/client";

/** What a job handler gets from the worker. */
export type JobContext = {
  db: Db;
  jobId: number;
  /** Which attempt at the job this is (1 = first); tests may leave it out. */
  attempt?: number;
  /** When the job was first started (its earlier attempts included), epoch ms. */
  startedAt?: number;
  workerId: string;
  /** Records progress, extends the lease; returns true when a cancel was requested. Throttle calls yourself (e.g. every 250 ms). */
  progress(fraction: number, message: string): boolean;
  log(msg: string): void;
  /** Aborted when the worker is shutting down (SIGTERM): stop soon; the job goes back to the queue. */
  signal: AbortSignal;
};
