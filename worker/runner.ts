import os from "node:os";
import type { Db } from "@/lib/db/client";
import { claimJob, cleanStaging, finishJob, heartbeatJob, LeaseLostError, releaseJob, jobPayloads, isJobType, type Job, type JobType } from "@/lib/jobs";
import type { JobContext } from "./context";

export type Handler<T extends JobType> = (ctx: JobContext, payload: import("@/lib/jobs").JobPayload<T>) => Promise<unknown>;
/** Exactly one handler per job type: the compiler rejects a registry that misses one. */
export type HandlerRegistry = { [T in JobType]: Handler<T> };

export type RunnerOptions = {
  db: Db;
  handlers: HandlerRegistry;
  leaseMs: number;
  pollMs?: number;
  workerId?: string;
  log?: (msg: string) => void;
};

/**
 * The worker's loop: claim a job, run its handler with a context that heartbeats, record the
 * outcome, repeat. stop() finishes the current job's handler early through its AbortSignal and
 * hands the job back to the queue.
 */
export class JobRunner {
  readonly workerId: string;
  private stopping = new AbortController();
  private wake: (() => void) | null = null;
  private readonly log: (msg: string) => void;

  constructor(private readonly opts: RunnerOptions) {
    this.workerId = opts.workerId ?? `${os.hostname()}:${process.pid}`;
    this.log = opts.log ?? ((m) => console.log(`[worker ${this.workerId}] ${m}`));
  }

  async runForever(): Promise<void> {
    while (!this.stopping.signal.aborted) {
      const ran = await this.runOnce();
      if (!ran) await this.sleep(this.opts.pollMs ?? 500);
    }
  }

  stop(): void {
    this.stopping.abort();
    this.wake?.();
  }

  /** Runs one job if there is one; returns whether it did. */
  async runOnce(): Promise<boolean> {
    const { db, leaseMs } = this.opts;
    const job = claimJob(db, this.workerId, leaseMs);
    if (!job) return false;
    this.log(`job ${job.id} ${job.type}: started (attempt ${job.attempts})`);
    // A job taken over (its worker died) or retried may have left staging files: remove what no live owner holds.
    if (job.attempts > 1) {
      const removed = await cleanStaging(db).catch((err) => {
        this.log(`staging cleanup failed: ${err instanceof Error ? err.message : String(err)}`);
        return [];
      });
      if (removed.length) this.log(`removed ${removed.length} leftover staging file(s)`);
    }
    await this.execute(job);
    return true;
  }

  private async execute(job: Job): Promise<void> {
    const { db, leaseMs } = this.opts;
    let cancelRequested = false;
    let leaseLost = false;
    const beat = (fraction?: number, message?: string) => {
      if (leaseLost) return true;
      try {
        cancelRequested = heartbeatJob(db, job.id, this.workerId, leaseMs, { fraction, message }).cancelRequested;
      } catch (err) {
        if (!(err instanceof LeaseLostError)) throw err;
        leaseLost = true;
      }
      return cancelRequested || leaseLost;
    };
    // Keeps the lease alive while a handler awaits I/O without reporting progress.
    const timer = setInterval(() => beat(), Math.max(1000, leaseMs / 3));
    const ctx: JobContext = {
      db,
      jobId: job.id,
      attempt: job.attempts,
      startedAt: job.startedAt ?? undefined,
      workerId: this.workerId,
      progress: (fraction, message) => beat(fraction, message) || this.stopping.signal.aborted,
      log: (msg) => this.log(`job ${job.id}: ${msg}`),
      signal: this.stopping.signal,
    };
    try {
      if (!isJobType(job.type)) throw new Error(`unknown job type "${job.type}"`);
      const payload = jobPayloads[job.type].parse(job.payload);
      const handler = this.opts.handlers[job.type] as Handler<typeof job.type>;
      const result = await handler(ctx, payload as never);
      clearInterval(timer);
      if (leaseLost) return this.log(`job ${job.id}: lease lost to another worker; result dropped`);
      if (this.stopping.signal.aborted && !cancelRequested) {
        releaseJob(db, job.id, this.workerId);
        return this.log(`job ${job.id}: handed back to the queue (shutting down)`);
      }
      finishJob(db, job.id, this.workerId, cancelRequested ? { status: "cancelled", result } : { status: "succeeded", result });
      this.log(`job ${job.id}: ${cancelRequested ? "cancelled" : "done"}`);
    } catch (err) {
      clearInterval(timer);
      const message = err instanceof Error ? err.message : String(err);
      this.log(`job ${job.id}: failed: ${message}`);
      if (!leaseLost) finishJob(db, job.id, this.workerId, { status: "failed", error: message });
    }
  }

  private sleep(ms: number): Promise<void> {
    return new Promise((resolve) => {
      const t = setTimeout(done, ms);
      function done() {
        clearTimeout(t);
        resolve();
      }
      this.wake = done;
    });
  }
}
