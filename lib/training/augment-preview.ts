/**
 * The project's "Augmentation" preview (web side, tfjs-free): its toggles, and the latest
 * "augment.preview" job whose PNGs the worker rendered with the trainer's own ops.
 */
import fsp from "node:fs/promises";
import path from "node:path";
import { desc, and, eq } from "drizzle-orm";
import type { Db } from "@/lib/db/client";
import { AUGMENT_OP_NAMES, getAugmentToggles, setAugmentToggles, type AugmentToggles } from "@/lib/db/queries/project-settings";
import { getProject } from "@/lib/db/queries/projects";
import { jobs } from "@/lib/db/schema";
import { getEnv } from "@/lib/env";
import { badRequest, notFound } from "@/lib/errors";
import { enqueueJob } from "@/lib/jobs";

export function previewDir(projectId: number, jobId: number): string {
  return path.join(getEnv().dataDir, "previews", String(projectId), String(jobId));
}

type PreviewView = { weak: string; weakOps: string; weakOpNames: string[]; strong: string; strongOps: string; strongOpNames: string[] };

export type AugmentPreview = {
  toggles: AugmentToggles;
  opNames: readonly string[];
  job: { id: number; status: string; error: string | null } | null;
  images: { imageId: number; views: PreviewView[] }[];
};

export function getAugmentPreview(db: Db, projectId: number): AugmentPreview {
  const toggles = getAugmentToggles(db, projectId);
  const job = db
    .select()
    .from(jobs)
    .where(and(eq(jobs.projectId, projectId), eq(jobs.type, "augment.preview")))
    .orderBy(desc(jobs.id))
    .limit(1)
    .get();
  const result = job?.status === "succeeded" ? (job.result as { images: { imageId: number; views: PreviewView[] }[] }) : null;
  const url = (file: string) => `/api/projects/${projectId}/augment-preview/${job!.id}/${file}`;
  return {
    toggles,
    opNames: AUGMENT_OP_NAMES,
    job: job ? { id: job.id, status: job.status, error: job.error } : null,
    images: (result?.images ?? []).map((i) => ({ imageId: i.imageId, views: i.views.map((v) => ({ ...v, weak: url(v.weak), strong: url(v.strong) })) })),
  };
}

/** Queues a fresh preview (a new seed each time, so "refresh" shows new draws). */
export function queueAugmentPreview(db: Db, projectId: number): AugmentPreview {
  getProject(db, projectId);
  enqueueJob(db, "augment.preview", { projectId, seed: Date.now() % 1_000_000 }, { priority: 5 });
  return getAugmentPreview(db, projectId);
}

/** Saves the toggles (the next run uses them) and queues a preview of them. */
export function saveAugmentToggles(db: Db, projectId: number, input: unknown): AugmentPreview {
  setAugmentToggles(db, projectId, input);
  return queueAugmentPreview(db, projectId);
}

const FILE = /^\d{1,2}-\d{1,2}-(weak|strong)\.png$/;

export async function readPreviewImage(projectId: number, jobId: number, file: string): Promise<Buffer> {
  if (!FILE.test(file)) throw badRequest("not a preview file name", { field: "file" });
  try {
    return await fsp.readFile(path.join(previewDir(projectId, jobId), file));
  } catch {
    throw notFound("preview image", `${jobId}/${file}`);
  }
}
