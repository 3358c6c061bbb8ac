/**
 * "augment.preview": weak and strong views of a few of the project's own images under its current
 * augmentation policy, rendered with the trainer's own ops (lib/ml/augment) as PNGs in
 * <dataDir>/previews/<projectId>/<jobId>/; the job's result lists them with the ops that made each.
 * Also: the project's toggles -> the AugmentPolicy the trainer uses (the train handler calls it).
 */
import fsp from "node:fs/promises";
import path from "node:path";
import type { Db } from "@/lib/db/client";
import { getAugmentToggles, type AugmentToggles } from "@/lib/db/queries/project-settings";
import { listImagesWithLabels } from "@/lib/db/queries/training";
import { getEnv } from "@/lib/env";
import type { JobPayload } from "@/lib/jobs";
import { DEFAULT_POLICY, describeApplied, strongAugment, weakAugmentApplied, type AugmentPolicy } from "@/lib/ml/augment";
import { framesToTensor } from "@/lib/ml/data";
import { pixelCacheFiles, updatePixelCache } from "@/lib/ml/pixels";
import { Rng } from "@/lib/ml/rng";
import { renderPng } from "@/lib/ml/samples";
import { blobPath } from "@/lib/storage";
import { previewDir } from "@/lib/training/augment-preview";
import * as tf from "@/lib/ml/tf";
import type { JobContext } from "../context";
import { ensureBackend } from "../backend";

export function policyFromToggles(t: AugmentToggles): AugmentPolicy {
  const strongOps = DEFAULT_POLICY.strongOps.filter((op) => !t.disabledOps.includes(op));
  return {
    ...DEFAULT_POLICY,
    flip: t.flip,
    translate: t.translate ? DEFAULT_POLICY.translate : 0,
    cutout: t.cutout ? DEFAULT_POLICY.cutout : 0,
    strongOps,
    opsPerImage: strongOps.length > 0 ? DEFAULT_POLICY.opsPerImage : 0,
  };
}

export function projectAugmentPolicy(db: Db, projectId: number): AugmentPolicy {
  return policyFromToggles(getAugmentToggles(db, projectId));
}

export const PREVIEW_IMAGES = 6;
export const PREVIEW_VIEWS = 3;
const PREVIEW_SIZE = 32;


export type AugmentPreviewResult = {
  policy: AugmentPolicy;
  images: { imageId: number; views: { weak: string; weakOps: string; strong: string; strongOps: string; strongOpNames: string[]; weakOpNames: string[] }[] }[];
};

export async function handleAugmentPreview(ctx: JobContext, payload: JobPayload<"augment.preview">): Promise<AugmentPreviewResult> {
  const { db } = ctx;
  const policy = projectAugmentPolicy(db, payload.projectId);
  const rows = listImagesWithLabels(db, payload.projectId);
  // Labeled images first: they show what a label would have to survive.
  const picked = [...rows.filter((r) => r.classId !== null), ...rows.filter((r) => r.classId === null)].slice(0, PREVIEW_IMAGES);
  const channels = rows.every((r) => r.channels <= 2) ? 1 : 3;
  await ensureBackend();
  const cache = await updatePixelCache({
    files: pixelCacheFiles(getEnv().dataDir, payload.projectId, PREVIEW_SIZE, channels),
    size: PREVIEW_SIZE,
    channels,
    images: picked.map((r) => ({ id: r.id, file: blobPath(r.sha256) })),
  });
  const ids = picked.filter((r) => cache.frameOf.has(r.id)).map((r) => r.id);
  const dir = previewDir(payload.projectId, ctx.jobId);
  await fsp.mkdir(dir, { recursive: true });
  const rng = new Rng(payload.seed ?? 1);
  const images: AugmentPreviewResult["images"] = ids.map((imageId) => ({ imageId, views: [] }));
  for (let v = 0; v < PREVIEW_VIEWS; v++) {
    const originals = framesToTensor(cache, ids.map((id) => cache.frameOf.get(id)!));
    const weak = weakAugmentApplied(originals, rng, policy);
    const strong = strongAugment(originals, rng, policy);
    const weakPixels = weak.images.dataSync() as Float32Array;
    const strongPixels = strong.images.dataSync() as Float32Array;
    tf.dispose([originals, weak.images, strong.images]);
    const each = PREVIEW_SIZE * PREVIEW_SIZE * channels;
    for (const [k, image] of images.entries()) {
      const names = { weak: `${k}-${v}-weak.png`, strong: `${k}-${v}-strong.png` };
      await fsp.writeFile(path.join(dir, names.weak), await renderPng(weakPixels.subarray(k * each, (k + 1) * each), PREVIEW_SIZE, channels));
      await fsp.writeFile(path.join(dir, names.strong), await renderPng(strongPixels.subarray(k * each, (k + 1) * each), PREVIEW_SIZE, channels));
      image.views.push({
        ...names,
        weakOps: describeApplied(weak.applied[k]),
        weakOpNames: weak.applied[k].map((o) => o.op),
        strongOps: describeApplied(strong.applied[k]),
        strongOpNames: strong.applied[k].map((o) => o.op),
      });
    }
  }
  return { policy, images };
}
