import { afterEach, beforeEach, describe, expect, it } from "vitest";
import type { Db } from "@/lib/db/client";
import { projects } from "@/lib/db/schema";
import { enqueueJob, getJob, requestJobCancel } from "@/lib/jobs";
import { makeTestDb } from "@/lib/testing/db";
import { JobRunner, type HandlerRegistry } from "./runner";

let db: Db;
let cleanup: () => void;
let projectId: number;
beforeEach(() => {
  ({ db, cleanup } = makeTestDb());
  projectId = db.insert(projects).values({ name: "p" }).returning().get().id;
});
afterEach(() => cleanup());

function registry(rebuild: HandlerRegistry["thumbnails.rebuild"]): HandlerRegistry {
  const unused = async () => {
    throw new Error("not used in this test");
  };
  return { "import.zip": unused, "import.folder": unused, "thumbnails.rebuild": rebuild, train: unused, predict: unused, "export.model": unused, "augment.preview": unused };
}

describe("JobRunner", () => {
  it("runs a job and stores its result and progress", async () => {
    const job = enqueueJob(db, "thumbnails.rebuild", { projectId });
    const runner = new JobRunner({
      db,
      leaseMs: 5000,
      log: () => {},
      handlers: registry(async (ctx, payload) => {
        ctx.progress(0.5, "halfway");
        return { project: payload.projectId };
      }),
    });
    expect(await runner.runOnce()).toBe(true);
    expect(getJob(db, job.id)).toMatchObject({ status: "succeeded", result: { project: projectId }, progressMessage: "halfway" });
    expect(await runner.runOnce()).toBe(false);
  });

  it("records a thrown error as a failure with its message", async () => {
    const job = enqueueJob(db, "thumbnails.rebuild", { projectId });
    const runner = new JobRunner({ db, leaseMs: 5000, log: () => {}, handlers: registry(async () => { throw new Error("disk full"); }) });
    await runner.runOnce();
    expect(getJob(db, job.id)).toMatchObject({ status: "failed", error: "disk full" });
  });

  it("tells the handler about a cancel request through progress(), and marks the job cancelled", async () => {
    const job = enqueueJob(db, "thumbnails.rebuild", { projectId });
    let stepsDone = 0;
    const runner = new JobRunner({
      db,
      leaseMs: 5000,
      log: () => {},
      handlers: registry(async (ctx) => {
        for (let i = 0; i < 100; i++) {
          if (i === 3) requestJobCancel(db, ctx.jobId);
          if (ctx.progress(i / 100, `${i}`)) break;
          stepsDone++;
        }
        return { stepsDone };
      }),
    });
    await runner.runOnce();
    expect(stepsDone).toBe(3);
    expect(getJob(db, job.id)).toMatchObject({ status: "cancelled", result: { stepsDone: 3 } });
  });

  it("hands the job back to the queue when the worker is stopped mid-job", async () => {
    const job = enqueueJob(db, "thumbnails.rebuild", { projectId });
    const runner = new JobRunner({
      db,
      leaseMs: 5000,
      log: () => {},
      handlers: registry(async (ctx) => {
        runner.stop();
        expect(ctx.signal.aborted).toBe(true);
        expect(ctx.progress(0.1, "stopping")).toBe(true);
        return null;
      }),
    });
    await runner.runOnce();
    expect(getJob(db, job.id)).toMatchObject({ status: "queued", attempts: 0, workerId: null });
  });
});
