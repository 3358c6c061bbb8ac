import { spawnSync } from "node:child_process";
import fs from "node:fs";
import path from "node:path";
import { eq } from "drizzle-orm";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import type { Db } from "@/lib/db/client";
import { jobs, projects } from "@/lib/db/schema";
import { newStagingPath, stagingDir, stagingOwnerOf } from "@/lib/storage";
import { makeTestDb } from "@/lib/testing/db";
import { JobRunner, type HandlerRegistry } from "@/worker/runner";
import { claimJob, enqueueJob, finishJob } from "./queue";
import { cleanStaging, UNOWNED_STAGING_GRACE_MS } from "./staging";

let db: Db;
let cleanup: () => void;
let projectId: number;
beforeEach(() => {
  ({ db, cleanup } = makeTestDb());
  projectId = db.insert(projects).values({ name: "p" }).returning().get().id;
});
afterEach(() => cleanup());

/** The pid of a process that has exited: what a web server or worker killed with -9 leaves in a name. */
function deadPid(): number {
  const r = spawnSync(process.execPath, ["-e", "process.stdout.write(String(process.pid))"]);
  return Number(r.stdout.toString());
}

async function leave(extension: "" | ".zip", owner?: Parameters<typeof newStagingPath>[1], bytes = "partial"): Promise<string> {
  const file = await newStagingPath(extension, owner);
  fs.writeFileSync(file, bytes);
  return file;
}

const names = () => fs.readdirSync(stagingDir()).sort();

describe("staging cleanup", () => {
  it("names staging files after their owner", async () => {
    expect(stagingOwnerOf(path.basename(await newStagingPath(".zip")))).toEqual({ kind: "process", pid: process.pid });
    expect(stagingOwnerOf(path.basename(await newStagingPath("", { kind: "job", jobId: 7, attempt: 2 })))).toEqual({ kind: "job", jobId: 7, attempt: 2 });
    expect(stagingOwnerOf("../etc")).toBeNull();
  });

  it("removes what a killed web server and worker left, keeps what a live request or job owns", async () => {
    const dead = deadPid();
    // The web server killed mid-upload: a partial zip and a partial image of a dead process.
    const partialZip = await leave(".zip", { kind: "process", pid: dead });
    const partialPart = await leave("", { kind: "process", pid: dead });
    // An upload in flight in this (live) process.
    const live = await leave("");
    // A zip handed to a queued job by a process that has died since: the job will read it.
    const queuedZip = await leave(".zip", { kind: "process", pid: dead });
    enqueueJob(db, "import.zip", { projectId, zipPath: queuedZip, originalName: "a.zip", deleteAfter: true });
    // A zip of a job that failed for good (its attempts used up): nobody will read it.
    const endedZip = await leave(".zip", { kind: "process", pid: dead });
    const ended = enqueueJob(db, "import.zip", { projectId, zipPath: endedZip, originalName: "b.zip", deleteAfter: true });
    db.update(jobs).set({ status: "failed" }).where(eq(jobs.id, ended.id)).run();
    // The worker killed mid zip import: entry temp files of attempt 1 of a job now at attempt 2.
    const running = enqueueJob(db, "thumbnails.rebuild", { projectId });
    db.update(jobs).set({ status: "running", attempts: 2 }).where(eq(jobs.id, running.id)).run();
    const oldAttempt = [await leave("", { kind: "job", jobId: running.id, attempt: 1 }), await leave("", { kind: "job", jobId: running.id, attempt: 1 })];
    const current = await leave("", { kind: "job", jobId: running.id, attempt: 2 });
    const goneJob = await leave("", { kind: "job", jobId: 9999, attempt: 1 });
    // Files of an older naming: removed once they are old enough that no request can be writing them.
    const oldUnowned = path.join(stagingDir(), "3f1c2a7e-0000-4000-8000-000000000000");
    fs.writeFileSync(oldUnowned, "x");
    const past = new Date(Date.now() - UNOWNED_STAGING_GRACE_MS - 60_000);
    fs.utimesSync(oldUnowned, past, past);
    const freshUnowned = path.join(stagingDir(), ".tmp-fresh");
    fs.writeFileSync(freshUnowned, "x");

    const removed = await cleanStaging(db);
    const base = (f: string) => path.basename(f);
    expect(removed.sort()).toEqual([partialZip, partialPart, endedZip, ...oldAttempt, goneJob, oldUnowned].map(base).sort());
    expect(names()).toEqual([live, queuedZip, current, freshUnowned].map(base).sort());
    expect(await cleanStaging(db)).toEqual([]);
  });

  it("runs when a worker takes over a job whose worker died, removing the dead attempt's files", async () => {
    const job = enqueueJob(db, "thumbnails.rebuild", { projectId });
    claimJob(db, "dead-worker", 1000, Date.now() - 10_000); // attempt 1; its lease has long expired
    const leftovers = [await leave("", { kind: "job", jobId: job.id, attempt: 1 }), await leave("", { kind: "job", jobId: job.id, attempt: 1 })];
    let seen: string[] = [];
    const unused = async () => {
      throw new Error("not used");
    };
    const handlers: HandlerRegistry = {
      "import.zip": unused,
      "import.folder": unused,
      train: unused,
      predict: unused,
      "export.model": unused,
      "augment.preview": unused,
      "thumbnails.rebuild": async (ctx) => {
        expect(ctx.attempt).toBe(2);
        seen = names();
        return {};
      },
    };
    const logs: string[] = [];
    await new JobRunner({ db, leaseMs: 5000, handlers, log: (m) => logs.push(m) }).runOnce();
    expect(seen).toEqual([]);
    for (const f of leftovers) expect(fs.existsSync(f)).toBe(false);
    expect(logs).toContain("removed 2 leftover staging file(s)");
  });

  it("keeps a finished job's files out of the way of a still-running later job", async () => {
    const a = enqueueJob(db, "thumbnails.rebuild", { projectId });
    const claimed = claimJob(db, "w", 5000)!;
    finishJob(db, a.id, "w", { status: "succeeded" });
    const leftover = await leave("", { kind: "job", jobId: claimed.id, attempt: 1 });
    expect(await cleanStaging(db)).toEqual([path.basename(leftover)]);
  });
});
