/**
 * Geometry (flip, shift, rotate, shear, translate) as one gather per batch: for every output
 * pixel the CPU computes which input pixel it copies (nearest neighbour, like PIL's default
 * resampling that FixMatch's augmentations used), and one gather op copies them all at once.
 *
 * Why not tf.image.transform: in tfjs-backend-cpu 4.22 its Transform kernel returns from inside
 * the batch loop, so only the first image of a batch is transformed and the others come back as
 * the fill value. A gather is exact, the same on every backend, and the index arithmetic for a
 * 32x32 batch is a few hundred thousand integer operations: negligible next to a training step.
 */
import * as tf from "../tf";

/** A source pixel index of -1 means "outside the input": the output pixel gets the fill value. */
export const OUTSIDE = -1;

/**
 * out[b, y, x, :] = images.reshape([-1, C])[sourcePixel[(b * H + y) * W + x], :], or `fillValue`
 * where the index is OUTSIDE. Source indices may point into other images of the batch.
 */
export function gatherPixels(images: tf.Tensor4D, sourcePixel: Int32Array, fillValue: number): tf.Tensor4D {
  const [n, h, w, c] = images.shape;
  const pixels = n * h * w;
  // The output may hold more (or fewer) images than the input: several views of one image.
  const outImages = sourcePixel.length / (h * w);
  if (!Number.isInteger(outImages) || outImages < 1) throw new Error(`gatherPixels: ${sourcePixel.length} indices is not a whole number of ${h}x${w} images`);
  return tf.tidy(() => {
    let table: tf.Tensor2D = tf.reshape(images, [pixels, c]);
    let indices = sourcePixel;
    if (sourcePixel.includes(OUTSIDE)) {
      // One extra row holding the fill colour; OUTSIDE pixels read it.
      table = tf.concat([table, tf.fill([1, c], fillValue)]);
      indices = sourcePixel.map((i) => (i === OUTSIDE ? pixels : i));
    }
    // gatherND rather than gather: on wasm (tfjs 4.22) gather copies a 448x32x32x3 batch in
    // ~150 ms, gatherND in ~25 ms.
    return tf.reshape(tf.gatherND(table, tf.tensor2d(indices, [indices.length, 1], "int32")), [outImages, h, w, c]);
  });
}

/** Mirror an index into [0, len) without repeating the edge pixel: ... 2 1 | 0 1 2 3 | 2 1 ... */
export function reflectIndex(p: number, len: number): number {
  if (len === 1) return 0;
  const period = 2 * (len - 1);
  const q = ((p % period) + period) % period;
  return q < len ? q : period - q;
}

export type FlipShift = {
  flip: boolean;
  /** How far the content moves, in pixels: +x right, +y down. */
  shiftX: number;
  shiftY: number;
};

/**
 * FixMatch's weak view: mirror left-right (when `flip`), then shift with reflect padding
 * (`tf.pad(mode='REFLECT')` then a crop: what the crop uncovers is the mirror image of the
 * content next to it, not a black band a network could learn to look for).
 * Output image b is made from input image `sourceOf[b]` (default: b), so several views of one
 * image come out of one gather, without first copying the image once per view.
 */
export function flipShiftSourceMap(shape: readonly number[], perImage: readonly FlipShift[], sourceOf?: readonly number[]): Int32Array {
  const [n, h, w] = shape;
  const views = sourceOf ? sourceOf.length : n;
  if (perImage.length !== views) throw new Error(`flipShiftSourceMap: ${perImage.length} draws for ${views} output images`);
  const out = new Int32Array(views * h * w);
  for (let b = 0; b < views; b++) {
    const { flip, shiftX, shiftY } = perImage[b];
    const source = sourceOf ? sourceOf[b] : b;
    if (!(source >= 0 && source < n)) throw new Error(`flipShiftSourceMap: source image ${source} is not in a batch of ${n}`);
    for (let y = 0; y < h; y++) {
      const sy = reflectIndex(y - shiftY, h);
      for (let x = 0; x < w; x++) {
        const sx = reflectIndex(x - shiftX, w);
        out[(b * h + y) * w + x] = (source * h + sy) * w + (flip ? w - 1 - sx : sx);
      }
    }
  }
  return out;
}

/** PIL's affine data (a, b, c, d, e, f): output point (x, y) samples input (ax + by + c, dx + ey + f). */
export type AffineMatrix = readonly [number, number, number, number, number, number];

/**
 * PIL's `Image.transform(size, AFFINE, matrix, NEAREST)`, pixel for pixel: PIL maps the output
 * pixel's centre (x + 0.5, y + 0.5) through the matrix and takes the input pixel that point falls
 * in (floor); points outside the image are OUTSIDE.
 */
export function affineSourceMap(shape: readonly number[], matrices: readonly AffineMatrix[]): Int32Array {
  const [n, h, w] = shape;
  const out = new Int32Array(n * h * w);
  for (let b = 0; b < n; b++) {
    const [ma, mb, mc, md, me, mf] = matrices[b];
    for (let y = 0; y < h; y++) {
      for (let x = 0; x < w; x++) {
        const sx = Math.floor(ma * (x + 0.5) + mb * (y + 0.5) + mc);
        const sy = Math.floor(md * (x + 0.5) + me * (y + 0.5) + mf);
        out[(b * h + y) * w + x] = sx >= 0 && sx < w && sy >= 0 && sy < h ? (b * h + sy) * w + sx : OUTSIDE;
      }
    }
  }
  return out;
}

/**
 * PIL's `Image.rotate(degrees)` matrix: counter-clockwise about the image centre. Like PIL, the
 * sine and cosine are rounded to 15 decimals so that 90 degrees maps pixel centres exactly.
 */
export function rotationMatrix(degrees: number, height: number, width: number): AffineMatrix {
  const angle = (-degrees * Math.PI) / 180;
  const cos = Number(Math.cos(angle).toFixed(15));
  const sin = Number(Math.sin(angle).toFixed(15));
  const cx = width / 2;
  const cy = height / 2;
  return [cos, sin, cx - cos * cx - sin * cy, -sin, cos, cy + sin * cx - cos * cy];
}
