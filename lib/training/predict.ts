/**
 * POST /api/projects/:id/predict: one image (multipart, any file field, or the raw image as the
 * body) through a run's model (?runId=, default the latest succeeded run). The model runs in the
 * web process; lib/ml/predict-image.ts explains why and how tfjs stays lazy.
 */
import { z } from "zod";
import type { Db } from "@/lib/db/client";
import { AppError, badRequest } from "@/lib/errors";
import type { TrainConfig } from "@/lib/ml/config";
import { runDir } from "@/lib/ml/export";
import { ImageDecodeError, predictImage } from "@/lib/ml/predict-image";
import { resolveModelRun, runLabels } from "./model-export";

export const predictQuery = z.object({ runId: z.coerce.number().int().positive().optional() });

/** A photo straight from a phone is a few MB; anything far larger is not one image to classify. */
export const MAX_PREDICT_BYTES = 25 * 1024 * 1024;

export type PredictResult = {
  modelVersion: string;
  runId: number;
  /** Every class, most probable first. */
  probs: { classId: number; name: string; p: number }[];
  /** The tfjs backend that ran it, e.g. "wasm (SIMD, 1 thread)", and why that one. */
  backend: string;
  backendReason: string;
  timing: { loadMs: number; decodeMs: number; predictMs: number };
};

const tooLarge = () => new AppError("payload_too_large", `the image is larger than ${MAX_PREDICT_BYTES / 1024 / 1024} MB`);

/** The image's bytes: the first file of a multipart form, or the whole body. */
export async function readImageBody(req: Request): Promise<Buffer> {
  if (Number(req.headers.get("content-length") ?? 0) > MAX_PREDICT_BYTES + 64 * 1024) throw tooLarge();
  const type = req.headers.get("content-type") ?? "";
  let bytes: Buffer;
  if (type.startsWith("multipart/form-data")) {
    const form = await req.formData().catch(() => {
      throw badRequest("the multipart body could not be read");
    });
    const file = [...form.values()].find((v): v is File => typeof v !== "string");
    if (!file) throw badRequest("send one image file in the form (any field name)", { field: "image" });
    bytes = Buffer.from(await file.arrayBuffer());
  } else {
    bytes = Buffer.from(await req.arrayBuffer());
  }
  if (bytes.length === 0) throw badRequest("the request has no image: send it as multipart/form-data or as the raw body", { field: "image" });
  if (bytes.length > MAX_PREDICT_BYTES) throw tooLarge();
  return bytes;
}

export async function predictUploadedImage(db: Db, projectId: number, image: Buffer, runId?: number): Promise<PredictResult> {
  const run = resolveModelRun(db, projectId, runId);
  const labels = runLabels(db, run);
  let prediction;
  try {
    prediction = await predictImage(runDir(run.id), image, (run.config as { train?: TrainConfig } | null)?.train?.backbone ?? null);
  } catch (err) {
    if (err instanceof ImageDecodeError) throw new AppError("unsupported_media", `not an image this server can read: ${err.message}`);
    throw err;
  }
  const probs = labels.map((l) => ({ classId: l.classId, name: l.name, p: prediction.probs[l.index] })).sort((a, b) => b.p - a.p);
  return { modelVersion: run.modelVersion, runId: run.id, probs, backend: prediction.backend, backendReason: prediction.backendReason, timing: prediction.timing };
}
