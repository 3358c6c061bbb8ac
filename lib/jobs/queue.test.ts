import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { makeTestDb } from "@/lib/testing/db";
import type { Db } from "@/lib/db/client";
import { projects } from "@/lib/db/schema";
import { claimJob, enqueueJob, finishJob, getJob, heartbeatJob, LeaseLostError, requestJobCancel } from "./queue";

let db: Db;
let cleanup: () => void;
let projectId: number;

beforeEach(() => {
  ({ db, cleanup } = makeTestDb());
  projectId = db.insert(projects).values({ name: "p" }).returning().get().id;
});
afterEach(() => cleanup());

describe("job queue", () => {
  it("claims jobs in priority then FIFO order, each once", () => {
    const a = enqueueJob(db, "thumbnails.rebuild", { projectId });
    const b = enqueueJob(db, "thumbnails.rebuild", { projectId }, { priority: 5 });
    expect(claimJob(db, "w1", 1000)?.id).toBe(b.id);
    expect(claimJob(db, "w2", 1000)?.id).toBe(a.id);
    expect(claimJob(db, "w3", 1000)).toBeNull();
    expect(getJob(db, a.id)).toMatchObject({ status: "running", workerId: "w2", attempts: 1 });
  });

  it("rejects a payload that fails its schema", () => {
    expect(() => enqueueJob(db, "import.folder", { projectId, folder: "" })).toThrow();
  });

  it("re-claims a job whose worker stopped heartbeating, and gives up after maxAttempts", () => {
    const job = enqueueJob(db, "thumbnails.rebuild", { projectId }, { maxAttempts: 2 });
    const t0 = 1_000_000;
    expect(claimJob(db, "dead", 100, t0)?.id).toBe(job.id);
    // Lease still valid: nobody else may take it.
    expect(claimJob(db, "w2", 100, t0 + 50)).toBeNull();
    // Lease expired: taken over, second attempt.
    const again = claimJob(db, "w2", 100, t0 + 200);
    expect(again).toMatchObject({ id: job.id, workerId: "w2", attempts: 2 });
    // The dead worker's heartbeat and finish are refused.
    expect(() => heartbeatJob(db, job.id, "dead", 100)).toThrow(LeaseLostError);
    expect(() => finishJob(db, job.id, "dead", { status: "succeeded" })).toThrow(LeaseLostError);
    // w2 dies too: attempts are used up, so the next claim fails the job instead of running it.
    expect(claimJob(db, "w3", 100, t0 + 400)).toBeNull();
    expect(getJob(db, job.id)).toMatchObject({ status: "failed" });
    expect(getJob(db, job.id).error).toMatch(/stopped 2 times/);
  });

  it("heartbeat extends the lease, records progress and reports a cancel request", () => {
    const job = enqueueJob(db, "thumbnails.rebuild", { projectId });
    claimJob(db, "w1", 100, 0);
    expect(heartbeatJob(db, job.id, "w1", 100, { fraction: 0.5, message: "half" }, 90)).toEqual({ cancelRequested: false });
    expect(claimJob(db, "w2", 100, 150)).toBeNull(); // lease now runs to 190
    requestJobCancel(db, job.id);
    expect(heartbeatJob(db, job.id, "w1", 100, {}, 160)).toEqual({ cancelRequested: true });
    const done = finishJob(db, job.id, "w1", { status: "cancelled" });
    expect(done).toMatchObject({ status: "cancelled", progress: 0.5, progressMessage: "half" });
  });

  it("cancels a queued job at once", () => {
    const job = enqueueJob(db, "thumbnails.rebuild", { projectId });
    expect(requestJobCancel(db, job.id).status).toBe("cancelled");
    expect(claimJob(db, "w1", 100)).toBeNull();
  });

  it("requeues a failed job that asks for a retry while attempts remain", () => {
    const job = enqueueJob(db, "thumbnails.rebuild", { projectId }, { maxAttempts: 2 });
    claimJob(db, "w1", 100);
    expect(finishJob(db, job.id, "w1", { status: "failed", error: "disk full", retry: true }).status).toBe("queued");
    claimJob(db, "w1", 100);
    const final = finishJob(db, job.id, "w1", { status: "failed", error: "disk full", retry: true });
    expect(final).toMatchObject({ status: "failed", error: "disk full", attempts: 2 });
  });

  it("stores the result of a succeeded job", () => {
    const job = enqueueJob(db, "thumbnails.rebuild", { projectId });
    claimJob(db, "w1", 100);
    expect(finishJob(db, job.id, "w1", { status: "succeeded", result: { made: 3 } })).toMatchObject({
      status: "succeeded",
      progress: 1,
      result: { made: 3 },
    });
  });
});
