/**
 * Cutout as FixMatch applies it after RandAugment: one gray square per image, its side a fraction
 * of the image's shorter side (0.5: 16 px on 32x32), centred on a uniformly drawn pixel and clipped
 * where it runs over the edge, so squares near a border are smaller (as in FixMatch's
 * cutout_numpy). Its gray is 0 on FixMatch's [-1, 1] scale, 0.5 here.
 */
import type { Rng } from "../rng";
import * as tf from "../tf";
import { FILL_GRAY } from "./ops";

/** Rows [top, bottom) and columns [left, right) painted gray. */
export type CutoutBox = { top: number; left: number; bottom: number; right: number };

export function drawCutoutBox(height: number, width: number, fraction: number, rng: Rng): CutoutBox {
  const side = Math.max(1, Math.round(fraction * Math.min(height, width)));
  const centreY = rng.int(height);
  const centreX = rng.int(width);
  const top = centreY - Math.floor(side / 2);
  const left = centreX - Math.floor(side / 2);
  return {
    top: Math.max(0, top),
    left: Math.max(0, left),
    bottom: Math.min(height, top + side),
    right: Math.min(width, left + side),
  };
}

/** Paints each image's box gray; pure, so tests can place boxes by hand. */
export function applyCutout(images: tf.Tensor4D, boxes: readonly CutoutBox[]): tf.Tensor4D {
  const [n, h, w] = images.shape;
  if (boxes.length !== n) throw new Error(`applyCutout: ${boxes.length} boxes for a batch of ${n}`);
  const inside = new Float32Array(n * h * w);
  boxes.forEach(({ top, left, bottom, right }, b) => {
    for (let y = top; y < bottom; y++) inside.fill(1, (b * h + y) * w + left, (b * h + y) * w + right);
  });
  return tf.tidy(() => {
    const mask = tf.tensor4d(inside, [n, h, w, 1]);
    // image * 1 + gray * 0 outside and image * 0 + gray * 1 inside are both exact in float32.
    return tf.add(tf.mul(images, tf.sub(1, mask)), tf.mul(mask, FILL_GRAY)) as tf.Tensor4D;
  });
}
