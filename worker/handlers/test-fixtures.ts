/**
 * Test helpers for the training handlers: a tiny project (24 gray 8x8 PNGs, odd ones bright and even
 * ones dark, the first 10 labeled) and the tiny model config both handler tests train with.
 */
import path from "node:path";
import sharp from "sharp";
import type { Db } from "@/lib/db/client";
import { ingestFile } from "@/lib/dataset/ingest";
import type { TrainConfig } from "@/lib/ml/config";
import { seededValues } from "@/lib/ml/testing";

export async function addBrightDarkImages(db: Db, projectId: number, dir: string): Promise<void> {
  const noise = seededValues(24 * 64, 5);
  for (let i = 0; i < 24; i++) {
    const bright = i % 2 === 1;
    const pixels = Buffer.from(Array.from({ length: 64 }, (_, p) => (bright ? 190 : 60) + Math.round(40 * noise[i * 64 + p])));
    const file = path.join(dir, `img${i}.png`);
    await sharp(pixels, { raw: { width: 8, height: 8, channels: 1 } }).toColourspace("b-w").png().toFile(file);
    const label = i < 10 ? (bright ? "bright" : "dark") : null;
    await ingestFile(db, { projectId, filePath: file, originalName: `img${i}.png`, label, actor: "test" });
  }
}

/** A 4-wide ResNet on 8x8 gray images, B 4, mu 2: a step takes milliseconds. */
export const TINY_TRAIN: Partial<TrainConfig> = {
  model: { kind: "resnet", width: 4, blocks: 1 },
  inputSize: 8,
  channels: 1,
  numClasses: 2,
  batchSize: 4,
  mu: 2,
  emaDecay: 0.9,
  bnMomentum: 0.9,
  evalEvery: 5,
  checkpointEvery: 5,
};
