import fs from "node:fs";
import path from "node:path";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import type { Db } from "@/lib/db/client";
import { eq } from "drizzle-orm";
import { classes, images } from "@/lib/db/schema";
import { makePng, makeProject, makeZip, writeFile } from "@/lib/dataset/test-fixtures";
import { resetEnvCache } from "@/lib/env";
import { newStagingPath, thumbPath } from "@/lib/storage";
import { makeTestDb } from "@/lib/testing/db";
import type { JobContext } from "../context";
import { handleImportFolder, handleImportZip, handleThumbnailsRebuild } from "./import";

let db: Db;
let dataDir: string;
let cleanup: () => void;
let projectId: number;

beforeEach(() => {
  ({ db, dataDir, cleanup } = makeTestDb());
  projectId = makeProject(db);
});
afterEach(() => {
  cleanup();
  delete process.env.FIXLABEL_IMPORT_ROOT;
  resetEnvCache();
});

function fakeContext(opts: { cancelAfter?: number; shuttingDown?: boolean; attempt?: number; startedAt?: number } = {}) {
  const calls: [number, string][] = [];
  const stopping = new AbortController();
  if (opts.shuttingDown) stopping.abort();
  const ctx: JobContext = {
    db,
    jobId: 1,
    attempt: opts.attempt,
    startedAt: opts.startedAt,
    workerId: "test",
    progress: (fraction, message) => {
      calls.push([fraction, message]);
      return opts.cancelAfter !== undefined && calls.length >= opts.cancelAfter;
    },
    log: () => undefined,
    signal: stopping.signal,
  };
  return { ctx, calls };
}

async function stageZip(count: number): Promise<string> {
  const entries = await Promise.all(Array.from({ length: count }, async (_, i) => ({ name: `${i}.png`, data: await makePng(4, 4, i) })));
  const zipPath = await newStagingPath(".zip");
  fs.writeFileSync(zipPath, await makeZip(entries));
  return zipPath;
}

describe("import job handlers", () => {
  it("imports a staged zip, reports progress and deletes the archive", async () => {
    const zipPath = await stageZip(3);
    const { ctx, calls } = fakeContext();
    const report = await handleImportZip(ctx, { projectId, zipPath, originalName: "photos.zip", deleteAfter: true });
    expect(report).toMatchObject({ added: 3, stopped: null });
    expect(calls.at(-1)).toEqual([1, "3 / 3 images"]);
    expect(fs.existsSync(zipPath)).toBe(false);
  });

  it("refuses an archive outside the staging folder", async () => {
    const outside = writeFile(dataDir, "elsewhere.zip", "x");
    const { ctx } = fakeContext();
    await expect(handleImportZip(ctx, { projectId, zipPath: outside, originalName: "x.zip", deleteAfter: true })).rejects.toThrow(
      /staging folder/,
    );
    expect(fs.existsSync(outside)).toBe(true);
  });

  it("stops on cancel with a partial report, and keeps the archive when the worker is shutting down", async () => {
    const cancelled = await stageZip(20);
    const report = await handleImportZip(fakeContext({ cancelAfter: 1 }).ctx, {
      projectId,
      zipPath: cancelled,
      originalName: "a.zip",
      deleteAfter: true,
    });
    expect(report.stopped).toBe("cancelled");
    expect(report.added).toBeLessThan(20);
    expect(fs.existsSync(cancelled)).toBe(false);

    const interrupted = await stageZip(20);
    const again = await handleImportZip(fakeContext({ cancelAfter: 1, shuttingDown: true }).ctx, {
      projectId,
      zipPath: interrupted,
      originalName: "b.zip",
      deleteAfter: true,
    });
    expect(again.stopped).toBe("worker shutting down");
    expect(fs.existsSync(interrupted)).toBe(true);
  });

  it("imports a folder below the import root", async () => {
    const root = path.join(dataDir, "imports");
    writeFile(root, "set/a.png", await makePng(4, 4, 1));
    process.env.FIXLABEL_IMPORT_ROOT = root;
    resetEnvCache();
    const report = await handleImportFolder(fakeContext().ctx, { projectId, folder: "set" });
    expect(report.added).toBe(1);
  });

  it("re-makes missing and failed thumbnails", async () => {
    const zipPath = await stageZip(2);
    await handleImportZip(fakeContext().ctx, { projectId, zipPath, originalName: "z.zip", deleteAfter: true });
    const [first] = db.select().from(images).orderBy(images.id).all();
    fs.rmSync(thumbPath(first.sha256));
    db.update(images).set({ thumbStatus: "failed" }).run();
    const report = await handleThumbnailsRebuild(fakeContext().ctx, { projectId });
    expect(report).toEqual({ checked: 2, rebuilt: 2, failed: 0, stopped: null });
    expect(fs.existsSync(thumbPath(first.sha256))).toBe(true);
    expect(db.select().from(images).all().every((i) => i.thumbStatus === "ready")).toBe(true);
  });

  it("a re-claimed import reports the job's own numbers across attempts: its first attempt's images are added, not duplicates", async () => {
    // Already in the project before the job: a true duplicate.
    const before = await makePng(4, 4, 100);
    await handleImportZip(fakeContext().ctx, { projectId, zipPath: await stageBytes([{ name: "old.png", data: before }]), originalName: "o.zip", deleteAfter: true });
    await new Promise((r) => setTimeout(r, 20)); // the job starts after that import, not within its millisecond
    const startedAt = Date.now();
    const entries = [
      { name: "old.png", data: before },
      ...(await Promise.all(Array.from({ length: 6 }, async (_, i) => ({ name: `${i}.png`, data: await makePng(4, 4, i) })))),
      { name: "copy-of-0.png", data: await makePng(4, 4, 0) }, // the same image twice inside the archive
    ];
    const zipPath = await stageBytes(entries);
    // Attempt 1 is killed after some images (shutdown keeps the archive, as a crash does).
    const first = await handleImportZip(fakeContext({ cancelAfter: 1, shuttingDown: true, attempt: 1, startedAt }).ctx, {
      projectId, zipPath, originalName: "z.zip", deleteAfter: true,
    });
    expect(first.added).toBeGreaterThan(0);
    const second = await handleImportZip(fakeContext({ attempt: 2, startedAt }).ctx, { projectId, zipPath, originalName: "z.zip", deleteAfter: true });
    expect(second).toMatchObject({ total: 8, added: 6, duplicates: 2, stopped: null });
    expect(db.select().from(images).all()).toHaveLength(7);
  });

  it("an archive entry that is rejected does not create its class", async () => {
    const zipPath = await stageBytes([
      { name: "a/broken.png", data: "not a png at all" },
      { name: "b/ok.png", data: await makePng(4, 4, 1) },
      { name: "c/empty.png", data: "" },
    ]);
    const report = await handleImportZip(fakeContext().ctx, { projectId, zipPath, originalName: "z.zip", deleteAfter: true });
    expect(report).toMatchObject({ added: 1, rejectedCount: 2, classesCreated: ["b"] });
    expect(db.select().from(classes).where(eq(classes.projectId, projectId)).all().map((c) => c.name)).toEqual(["b"]);
  });
});

async function stageBytes(entries: { name: string; data: Buffer | string }[]): Promise<string> {
  const zipPath = await newStagingPath(".zip");
  fs.writeFileSync(zipPath, await makeZip(entries));
  return zipPath;
}

