import { z } from "zod";

/**
 * The closed set of jobs the worker runs, each with its payload schema. Adding a job means adding
 * it here and one handler in worker/handlers.ts (the compiler checks that every job has one).
 */
export const jobPayloads = {
  /** Unpack an uploaded .zip and import its images (ImageFolder labels too). */
  "import.zip": z.object({
    projectId: z.number().int().positive(),
    /** Path of the uploaded archive inside the data folder's staging area. */
    zipPath: z.string().min(1),
    originalName: z.string(),
    deleteAfter: z.boolean().default(true),
  }),
  /** Import every image below a folder on the server (restricted to FIXLABEL_IMPORT_ROOT). */
  "import.folder": z.object({
    projectId: z.number().int().positive(),
    folder: z.string().min(1),
  }),
  /** Re-make thumbnails that are missing or failed (after a crash, or a thumbnail size change). */
  "thumbnails.rebuild": z.object({
    projectId: z.number().int().positive(),
  }),
  /** Train (or resume) a training run; queues "predict" when it finishes. */
  train: z.object({
    projectId: z.number().int().positive(),
    runId: z.number().int().positive(),
  }),
  /** Predict every image of the project with a finished run's EMA model. */
  predict: z.object({
    projectId: z.number().int().positive(),
    runId: z.number().int().positive(),
  }),
  /**
   * Write a finished run's model files (runs/<id>/export/) for the model download. A run writes them
   * as it finishes; this job is for runs that finished before exports existed, or lost their files.
   */
  "export.model": z.object({
    projectId: z.number().int().positive(),
    runId: z.number().int().positive(),
  }),
  /** Weak and strong views of a few of the project's images under its augmentation policy (PNGs for the preview). */
  "augment.preview": z.object({
    projectId: z.number().int().positive(),
    seed: z.number().int().optional(),
  }),
} as const;

export type JobType = keyof typeof jobPayloads;
export type JobPayload<T extends JobType> = z.infer<(typeof jobPayloads)[T]>;
export const JOB_TYPES = Object.keys(jobPayloads) as JobType[];

export function isJobType(value: string): value is JobType {
  return Object.hasOwn(jobPayloads, value);
}
