/**
 * RandAugment's op pool as FixMatch uses it, each op registered beside the range its magnitude is
 * drawn from. Ops take a float32 NHWC batch in [0, 1] (1 or 3 channels) and one magnitude per
 * image, and return a new batch; they follow PIL's semantics (FixMatch ran PIL on uint8 images),
 * checked against Pillow itself in ops.test.ts.
 *
 * Colour ops compute in float and clip to [0, 1]; PIL rounds each step to uint8, so results agree
 * to within two levels in 255. Ops defined on levels (Posterize, Equalize) first round to 256 levels.
 *
 * Ranges (the FixMatch paper's RandAugment table, and the code that produced its results,
 * google-research/fixmatch third_party/auto_augment/augmentations.py):
 * - Brightness, Color, Contrast, Sharpness: PIL enhance factor in [0.1, 1.9], as the code runs it
 *   (0.1 + 1.8 * level / 10); 1 is the identity, 0 the degenerate image. The paper's table
 *   lists [0.05, 0.95], which could only ever darken and flatten: we follow the code.
 * - Rotate +-30 degrees, ShearX/Y +-0.3, TranslateX/Y +-0.3 of the side, Posterize 4..8 bits kept,
 *   Solarize threshold in [0, 1]: as the paper's table.
 * - AutoContrast, Equalize, Identity take no magnitude (range [0, 0]).
 * Geometric ops fill what they uncover with gray 0.5: FixMatch's PIL images carry an alpha
 * channel that the transform zeroes there, and its unwrap step sets those pixels to 0 in [-1, 1]
 * coordinates, which is gray. We fill at once rather than after the next op.
 */
import * as tf from "../tf";
import { affineSourceMap, gatherPixels, rotationMatrix, type AffineMatrix } from "./remap";

export const STRONG_OP_NAMES = [
  "AutoContrast",
  "Brightness",
  "Color",
  "Contrast",
  "Equalize",
  "Identity",
  "Posterize",
  "Rotate",
  "Sharpness",
  "ShearX",
  "ShearY",
  "Solarize",
  "TranslateX",
  "TranslateY",
] as const;
export type StrongOpName = (typeof STRONG_OP_NAMES)[number];

export type StrongOp = {
  /** Magnitudes are drawn uniformly from [low, high]. */
  range: readonly [number, number];
  /** Draw whole numbers only (Posterize's bit count). */
  integer?: boolean;
  /** What the magnitude means, for people reading a policy or an `applied` list. */
  unit: string;
  apply(images: tf.Tensor4D, magnitudes: readonly number[]): tf.Tensor4D;
};

/** The gray that Cutout paints and geometric ops fill with: 0 in FixMatch's [-1, 1] scale. */
export const FILL_GRAY = 0.5;

/** ITU-R 601-2 luma, the weights of PIL's convert("L"), which Color and Contrast blend with. */
const LUMA_WEIGHTS = [0.299, 0.587, 0.114];

/** PIL's ImageFilter.SMOOTH, the blurred image that Sharpness moves away from. */
const SMOOTH_KERNEL = [1, 1, 1, 1, 5, 1, 1, 1, 1].map((v) => v / 13);

/** One value per image, shaped to broadcast over H, W and C. */
function perImage(values: readonly number[]): tf.Tensor4D {
  return tf.tensor4d(values as number[], [values.length, 1, 1, 1]);
}

function grayscale(images: tf.Tensor4D): tf.Tensor4D {
  const channels = images.shape[3];
  if (channels === 1) return images;
  if (channels !== 3) throw new Error(`augment ops take 1 or 3 channels, got ${channels}`);
  return tf.sum(tf.mul(images, tf.tensor1d(LUMA_WEIGHTS)), 3, true);
}

/** PIL's ImageEnhance: degenerate + factor * (image - degenerate), clipped to the valid range. */
function blend(degenerate: tf.Tensor, images: tf.Tensor4D, factors: readonly number[]): tf.Tensor4D {
  return tf.tidy(() => tf.clipByValue(tf.add(degenerate, tf.mul(perImage(factors), tf.sub(images, degenerate))), 0, 1) as tf.Tensor4D);
}

/** Round to PIL's 256 levels (0..255) for the ops that are defined on levels. */
function toLevels(images: tf.Tensor4D): tf.Tensor4D {
  return tf.tidy(() => tf.round(tf.mul(tf.clipByValue(images, 0, 1), 255)) as tf.Tensor4D);
}

function geometric(matrixFor: (magnitude: number, height: number, width: number) => AffineMatrix) {
  return (images: tf.Tensor4D, magnitudes: readonly number[]): tf.Tensor4D => {
    const [, h, w] = images.shape;
    const sources = affineSourceMap(images.shape, magnitudes.map((m) => matrixFor(m, h, w)));
    return gatherPixels(images, sources, FILL_GRAY);
  };
}

/** PIL's ImageOps.autocontrast (cutoff 0): per image and channel, stretch [min, max] to [0, 1]. */
function autoContrast(images: tf.Tensor4D): tf.Tensor4D {
  return tf.tidy(() => {
    const low = tf.min(images, [1, 2], true);
    const high = tf.max(images, [1, 2], true);
    const range = tf.sub(high, low);
    // A flat channel (max == min) is left as it is, as PIL does.
    const flat = tf.lessEqual(range, 0);
    const scale = tf.where(flat, tf.onesLike(range), tf.reciprocal(range));
    const offset = tf.where(flat, tf.zerosLike(low), low);
    return tf.clipByValue(tf.mul(tf.sub(images, offset), scale), 0, 1) as tf.Tensor4D;
  });
}

/**
 * PIL's ImageOps.equalize, per image and channel on 256 levels. Each image needs its own
 * histogram and lookup table, which is a short loop over the batch on the CPU (the batch is read
 * back once; only the images that drew Equalize come here).
 */
function equalize(images: tf.Tensor4D): tf.Tensor4D {
  const [n, h, w, c] = images.shape;
  const levelsTensor = toLevels(images);
  const levels = levelsTensor.dataSync();
  levelsTensor.dispose();
  const out = new Float32Array(levels.length);
  const histogram = new Int32Array(256);
  const lut = new Float32Array(256);
  for (let b = 0; b < n; b++) {
    for (let ch = 0; ch < c; ch++) {
      const first = b * h * w * c + ch;
      const end = (b + 1) * h * w * c;
      histogram.fill(0);
      for (let i = first; i < end; i += c) histogram[levels[i]]++;
      buildEqualizeLut(histogram, lut);
      for (let i = first; i < end; i += c) out[i] = lut[levels[i]];
    }
  }
  return tf.tensor4d(out, images.shape);
}

/**
 * PIL's equalize lookup table as values in [0, 1]: spread the cumulative histogram evenly over
 * 256 levels, leaving out the last used level's count; an image with one level, or too few pixels
 * to fill a step, keeps its levels.
 */
function buildEqualizeLut(histogram: Int32Array, lut: Float32Array): void {
  let total = 0;
  let used = 0;
  let lastCount = 0;
  for (const count of histogram) {
    if (count === 0) continue;
    total += count;
    used++;
    lastCount = count;
  }
  const step = Math.floor((total - lastCount) / 255);
  if (used <= 1 || step === 0) {
    for (let level = 0; level < 256; level++) lut[level] = level / 255;
    return;
  }
  let running = Math.floor(step / 2);
  for (let level = 0; level < 256; level++) {
    lut[level] = Math.min(255, Math.floor(running / step)) / 255;
    running += histogram[level];
  }
}

/** PIL's ImageOps.posterize: keep the top `bits` bits of each 8-bit level. */
function posterize(images: tf.Tensor4D, magnitudes: readonly number[]): tf.Tensor4D {
  return tf.tidy(() => {
    const bucket = perImage(magnitudes.map((bits) => 2 ** (8 - Math.round(bits))));
    return tf.div(tf.mul(tf.floor(tf.div(toLevels(images), bucket)), bucket), 255);
  });
}

/** PIL's ImageEnhance.Sharpness: blend with the SMOOTH-filtered image, whose 1-pixel border is the original's. */
function sharpness(images: tf.Tensor4D, magnitudes: readonly number[]): tf.Tensor4D {
  const [, h, w, c] = images.shape;
  if (h < 3 || w < 3) return tf.clone(images);
  return tf.tidy(() => {
    const kernel = tf.tile(tf.tensor4d(SMOOTH_KERNEL, [3, 3, 1, 1]), [1, 1, c, 1]) as tf.Tensor4D;
    const smoothedInterior = tf.depthwiseConv2d(images, kernel, 1, "valid");
    const interior = tf.slice(images, [0, 1, 1, 0], [-1, h - 2, w - 2, -1]);
    // Zero padding of the difference keeps the border pixels exactly as they were.
    const smoothed = tf.add(images, tf.pad(tf.sub(smoothedInterior, interior), [[0, 0], [1, 1], [1, 1], [0, 0]]));
    return blend(smoothed, images, magnitudes);
  });
}

/**
 * PIL's ImageOps.solarize: invert every value at or above the threshold. Written with step()
 * rather than greaterEqual + where: wasm's comparison kernels take ~20x longer than its arithmetic
 * on a large batch. Multiplying by exact 0s and 1s keeps the result exact.
 */
function solarize(images: tf.Tensor4D, magnitudes: readonly number[]): tf.Tensor4D {
  return tf.tidy(() => {
    const keep = tf.step(tf.sub(perImage(magnitudes), images)); // 1 below the threshold, else 0
    return tf.add(tf.mul(keep, images), tf.mul(tf.sub(1, keep), tf.sub(1, images))) as tf.Tensor4D;
  });
}

export const STRONG_OPS: Record<StrongOpName, StrongOp> = {
  AutoContrast: { range: [0, 0], unit: "none", apply: (images) => autoContrast(images) },
  Brightness: {
    range: [0.1, 1.9],
    unit: "factor (1 = unchanged, 0 = black)",
    apply: (images, m) => tf.tidy(() => blend(tf.zerosLike(images), images, m)),
  },
  Color: {
    range: [0.1, 1.9],
    unit: "saturation factor (1 = unchanged, 0 = gray)",
    // A one-channel image is its own grayscale: nothing to change.
    apply: (images, m) => (images.shape[3] === 1 ? tf.clone(images) : tf.tidy(() => blend(grayscale(images), images, m))),
  },
  Contrast: {
    range: [0.1, 1.9],
    unit: "factor (1 = unchanged, 0 = mean gray)",
    apply: (images, m) => tf.tidy(() => blend(tf.mean(grayscale(images), [1, 2, 3], true), images, m)),
  },
  Equalize: { range: [0, 0], unit: "none", apply: (images) => equalize(images) },
  Identity: { range: [0, 0], unit: "none", apply: (images) => tf.clone(images) },
  Posterize: { range: [4, 8], integer: true, unit: "bits kept", apply: posterize },
  Rotate: {
    range: [-30, 30],
    unit: "degrees counter-clockwise",
    apply: geometric((degrees, h, w) => rotationMatrix(degrees, h, w)),
  },
  Sharpness: { range: [0.1, 1.9], unit: "factor (1 = unchanged, 0 = smoothed)", apply: sharpness },
  // PIL shears about the top-left corner (FixMatch passes (1, s, 0, 0, 1, 0) straight to PIL).
  ShearX: { range: [-0.3, 0.3], unit: "x shift per row", apply: geometric((s) => [1, s, 0, 0, 1, 0]) },
  ShearY: { range: [-0.3, 0.3], unit: "y shift per column", apply: geometric((s) => [1, 0, 0, s, 1, 0]) },
  Solarize: { range: [0, 1], unit: "threshold", apply: solarize },
  // Positive magnitudes sample from the right (below), so the content moves left (up).
  TranslateX: { range: [-0.3, 0.3], unit: "fraction of the width", apply: geometric((t, _h, w) => [1, 0, t * w, 0, 1, 0]) },
  TranslateY: { range: [-0.3, 0.3], unit: "fraction of the height", apply: geometric((t, h) => [1, 0, 0, 0, 1, t * h]) },
};

/** Applies one op to every image, each with its own magnitude; pure, so tests need no RNG. */
export function applyOp(name: StrongOpName, images: tf.Tensor4D, magnitudes: readonly number[]): tf.Tensor4D {
  const op = STRONG_OPS[name];
  if (!op) throw new Error(`unknown augmentation op ${JSON.stringify(name)}`);
  if (magnitudes.length !== images.shape[0]) {
    throw new Error(`${name}: ${magnitudes.length} magnitudes for a batch of ${images.shape[0]}`);
  }
  return op.apply(images, magnitudes);
}
