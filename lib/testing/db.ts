import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { closeDb, getDb, type Db } from "@/lib/db/client";
import { migrateDb } from "@/lib/db/migrate";
import { createProject, getProjectWithClasses } from "@/lib/db/queries/projects";
import { createRun, updateRun, writePredictions } from "@/lib/db/queries/training";
import { images } from "@/lib/db/schema";
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

/**
 * `n` image rows of a project, no files: hash `<tag><i>` zero-padded (`tag` keeps sets apart), name
 * `<tag><i>.png`, or `img<i>.png` without a tag.
 */
export function addImageRows(db: Db, projectId: number, n: number, tag = ""): number[] {
  return Array.from(
    { length: n },
    (_, i) =>
      db
        .insert(images)
        .values({ projectId, sha256: `${tag}${i}`.padStart(64, "0"), originalName: `${tag || "img"}${i}.png`, format: "png", width: 8, height: 8, bytes: 100, channels: 3 })
        .returning()
        .get().id,
  );
}

/**
 * The small project most DB tests start from: "pets" with classes cat and dog (or `classes`), and
 * `images` unlabeled image rows made by addImageRows (`tag` passed on). Class ids come in the order given.
 */
export function makePetsProject(
  db: Db,
  { images: imageCount = 0, tag = "", classes = ["cat", "dog"] }: { images?: number; tag?: string; classes?: string[] } = {},
): { projectId: number; classIds: number[]; imageIds: number[] } {
  const projectId = createProject(db, { name: "pets", classes: classes.map((name) => ({ name })) }).id;
  const classIds = getProjectWithClasses(db, projectId).classes.map((c) => c.id);
  return { projectId, classIds, imageIds: addImageRows(db, projectId, imageCount, tag) };
}

/**
 * EXPLAIN QUERY PLAN of every statement `fn` prepares, one line each: tests assert that a query
 * uses the index it was written for.
 */
/**
 * A run over `classIds` that ended with `status`, with one prediction per [imageId, classId,
 * confidence] (the other classes share the rest of the probability), as the worker would leave it.
 */
export function addRunWithPredictions(
  db: Db,
  projectId: number,
  classIds: readonly number[],
  preds: readonly [number, number, number][],
  status: "succeeded" | "failed" = "succeeded",
) {
  const run = createRun(db, { projectId, mode: "fixmatch", config: { classIds: [...classIds] }, totalSteps: 10 });
  updateRun(db, run.id, { status });
  writePredictions(
    db,
    preds.map(([imageId, classId, confidence]) => ({
      projectId,
      imageId,
      runId: run.id,
      modelVersion: run.modelVersion,
      probs: classIds.map((c) => (c === classId ? confidence : 1 - confidence)),
      topClassId: classId,
      confidence,
    })),
  );
  return run;
}

export function plansOf(db: Db, fn: () => unknown): string[] {
  const client = db.$client;
  const prepare = client.prepare;
  const statements: string[] = [];
  client.prepare = ((source: string) => {
    statements.push(source);
    return prepare.call(client, source);
  }) as typeof client.prepare;
  try {
    fn();
  } finally {
    client.prepare = prepare;
  }
  return statements.map((source) =>
    (client.prepare(`explain query plan ${source}`).all(...Array<number>((source.match(/\?/g) ?? []).length).fill(1)) as { detail: string }[])
      .map((r) => r.detail)
      .join(" | "),
  );
}
