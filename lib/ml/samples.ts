/**
 * "How it learns": a few unlabeled images of one training step, recorded from the tensors that
 * step used (not re-drawn afterwards). The loop hands a StepSample the weak and strong views it
 * built and the loss outputs it computed; `capture` reads back only the chosen images (about 6)
 * and `writeSampleImages` renders their views as small PNGs with sharp.
 *
 * Per image: the weak view's pseudo-label and confidence, the threshold it was held to, whether
 * it passed (the mask the loss used), how both views were made (AppliedOp lists), the model's
 * prediction on the strong view, and the cross-entropy of the strong view against the
 * pseudo-label, exactly the per-image term of the unlabeled loss (it counts only when masked in).
 */
import fsp from "node:fs/promises";
import path from "node:path";
import sharp from "sharp";
import type { AppliedOp } from "./augment";
import type { FixMatchLoss } from "./fixmatch";
import * as tf from "./tf";

/** Images recorded per sample event. */
export const SAMPLES_PER_EVENT = 6;

export type SampleImage = {
  /** Position in the step's unlabeled batch. */
  batchIndex: number;
  /** Frame of the pixel cache (the caller maps it to an image id). */
  frame: number;
  weakOps: AppliedOp[];
  strongOps: AppliedOp[];
  weakClassIndex: number;
  weakConfidence: number;
  threshold: number;
  maskedIn: boolean;
  strongClassIndex: number;
  strongConfidence: number;
  loss: number;
  /** The views' pixels as the step used them: HWC float32 in [0, 1]. */
  weak: Float32Array;
  strong: Float32Array;
};

export type SampleEvent = {
  step: number;
  size: number;
  channels: number;
  images: SampleImage[];
  /** Time spent reading the chosen images back from the step's tensors. */
  captureMs: number;
};

type Views = { images: tf.Tensor4D; applied: AppliedOp[][] };

/**
 * Picks up to `count` batch positions, alternating masked-in and masked-out (masked-in first) in
 * batch order, so a strip shows both when the batch has both; the rest filled from whichever remains.
 */
export function pickSampleIndices(mask: ArrayLike<number>, count = SAMPLES_PER_EVENT): number[] {
  const masked: number[][] = [[], []];
  for (let i = 0; i < mask.length; i++) masked[mask[i] !== 0 ? 0 : 1].push(i);
  const [inside, outside] = masked;
  const picked: number[] = [];
  for (let k = 0; picked.length < count && (k < inside.length || k < outside.length); k++) {
    if (k < inside.length) picked.push(inside[k]);
    if (k < outside.length && picked.length < count) picked.push(outside[k]);
  }
  return picked.sort((a, b) => a - b);
}

function rowsOf(t: tf.Tensor2D | tf.Tensor1D, indices: number[]): Float32Array[] {
  const data = t.dataSync() as Float32Array;
  const width = t.rank === 2 ? t.shape[1]! : 1;
  return indices.map((i) => data.subarray(i * width, (i + 1) * width));
}

function argmax(values: ArrayLike<number>): number {
  let best = 0;
  for (let i = 1; i < values.length; i++) if (values[i] > values[best]) best = i;
  return best;
}

/** What one step keeps for its sample event; disposed by the loop with the step's other tensors. */
export class StepSample {
  private views: { weak: Views; strong: Views } | null = null;
  private outputs: { weakProbs: tf.Tensor2D; mask: tf.Tensor1D; strongCe: tf.Tensor1D; strongProbs: tf.Tensor2D } | null = null;

  /** The unlabeled weak and strong views that go into the step's forward pass. */
  keepViews(weak: Views, strong: Views): void {
    this.views = { weak: { images: tf.keep(weak.images), applied: weak.applied }, strong: { images: tf.keep(strong.images), applied: strong.applied } };
  }

  /** The loss outputs of the same step (inside the gradient closure: kept past its scope). */
  keepOutputs(out: FixMatchLoss, logitsStrong: tf.Tensor2D): void {
    this.outputs = {
      weakProbs: tf.keep(out.weakProbs),
      mask: tf.keep(out.mask),
      strongCe: tf.keep(out.strongCe),
      strongProbs: tf.keep(tf.softmax(logitsStrong) as tf.Tensor2D),
    };
  }

  /**
   * Reads the chosen images back. `threshold` is the step's threshold: one number, or one per
   * class (FlexMatch), applied by pseudo-label as the loss did.
   */
  capture(step: number, frames: readonly number[], threshold: number | ArrayLike<number>, count = SAMPLES_PER_EVENT): SampleEvent {
    const start = performance.now();
    if (!this.views || !this.outputs) throw new Error("StepSample.capture before keepViews and keepOutputs");
    const { weak, strong } = this.views;
    const [, size, , channels] = weak.images.shape;
    const mask = this.outputs.mask.dataSync();
    const picked = pickSampleIndices(mask, count);
    const pixels = (images: tf.Tensor4D) => {
      const rows = tf.tidy(() => tf.gather(images, tf.tensor1d(picked, "int32")));
      const data = rows.dataSync() as Float32Array;
      rows.dispose();
      const each = size * size * channels;
      return picked.map((_, k) => data.slice(k * each, (k + 1) * each));
    };
    const weakPixels = pixels(weak.images);
    const strongPixels = pixels(strong.images);
    const weakProbs = rowsOf(this.outputs.weakProbs, picked);
    const strongProbs = rowsOf(this.outputs.strongProbs, picked);
    const ce = this.outputs.strongCe.dataSync();
    const images = picked.map((i, k): SampleImage => {
      const weakClassIndex = argmax(weakProbs[k]);
      const strongClassIndex = argmax(strongProbs[k]);
      return {
        batchIndex: i,
        frame: frames[i],
        weakOps: weak.applied[i],
        strongOps: strong.applied[i],
        weakClassIndex,
        weakConfidence: weakProbs[k][weakClassIndex],
        threshold: typeof threshold === "number" ? threshold : threshold[weakClassIndex],
        maskedIn: mask[i] !== 0,
        strongClassIndex,
        strongConfidence: strongProbs[k][strongClassIndex],
        loss: ce[i],
        weak: weakPixels[k],
        strong: strongPixels[k],
      };
    });
    return { step, size, channels, images, captureMs: performance.now() - start };
  }

  dispose(): void {
    if (this.views) tf.dispose([this.views.weak.images, this.views.strong.images]);
    if (this.outputs) tf.dispose(Object.values(this.outputs));
    this.views = null;
    this.outputs = null;
  }
}

/** HWC float32 in [0, 1] -> PNG bytes (round(v * 255), clamped); 1 channel becomes a gray PNG. */
export async function renderPng(pixels: Float32Array, size: number, channels: number): Promise<Buffer> {
  const bytes = Buffer.alloc(pixels.length);
  for (let i = 0; i < pixels.length; i++) bytes[i] = Math.min(255, Math.max(0, Math.round(pixels[i] * 255)));
  const image = sharp(bytes, { raw: { width: size, height: size, channels: channels as 1 | 3 } });
  return (channels === 1 ? image.toColourspace("b-w") : image).png({ compressionLevel: 6 }).toBuffer();
}

/** Where a run keeps the views of its sample event at `step`. */
export function sampleStepDir(runDir: string, step: number): string {
  return path.join(runDir, "samples", String(step));
}

/** File names of image k's views inside its step's folder. */
export const sampleFileNames = (k: number) => ({ weak: `${k}-weak.png`, strong: `${k}-strong.png` });

/** Writes the event's views as PNGs under runs/<id>/samples/<step>/ (replacing an earlier try of the same step). */
export async function writeSampleImages(runDir: string, event: SampleEvent): Promise<{ weak: string; strong: string }[]> {
  const dir = sampleStepDir(runDir, event.step);
  await fsp.mkdir(dir, { recursive: true });
  return Promise.all(
    event.images.map(async (image, k) => {
      const names = sampleFileNames(k);
      await fsp.writeFile(path.join(dir, names.weak), await renderPng(image.weak, event.size, event.channels));
      await fsp.writeFile(path.join(dir, names.strong), await renderPng(image.strong, event.size, event.channels));
      return names;
    }),
  );
}

/** Deletes the view folders of sample events no longer listed (the DB keeps the last few events). */
export async function pruneSampleImages(runDir: string, keepSteps: readonly number[]): Promise<void> {
  const root = path.join(runDir, "samples");
  let entries: string[];
  try {
    entries = await fsp.readdir(root);
  } catch {
    return;
  }
  const keep = new Set(keepSteps.map(String));
  await Promise.all(entries.filter((e) => !keep.has(e)).map((e) => fsp.rm(path.join(root, e), { recursive: true, force: true })));
}
