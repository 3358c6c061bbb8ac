/**
 * FixMatch's two views of an image, as batched tensor ops on the training backend:
 * - weak: random horizontal flip, then a random shift of up to `translate` of the side, with
 *   reflect padding (FixMatch's default augmentation for labeled images and for pseudo-labels);
 * - strong: the same weak flip and shift, then RandAugment (`opsPerImage` ops drawn from
 *   `strongOps`, each with a magnitude drawn from its range in STRONG_OPS), then Cutout.
 * Images are float32 NHWC in [0, 1] with 1 or 3 channels. Every random choice comes from the
 * caller's Rng, drawn on the CPU before any tensor work, so a seed (or a checkpointed Rng state)
 * reproduces the views exactly on any backend.
 *
 * A policy is plain data (a project can store it as JSON): turning flip off for digits or text,
 * or dropping an op from the pool, is an edit to the policy, not to this code.
 */
import type { Rng } from "../rng";
import * as tf from "../tf";
import { applyCutout, drawCutoutBox, type CutoutBox } from "./cutout";
import { applyOp, STRONG_OP_NAMES, STRONG_OPS, type StrongOp, type StrongOpName } from "./ops";
import { flipShiftSourceMap, gatherPixels, type FlipShift } from "./remap";

export { applyCutout, drawCutoutBox, type CutoutBox } from "./cutout";
export { applyOp, FILL_GRAY, STRONG_OP_NAMES, STRONG_OPS, type StrongOp, type StrongOpName } from "./ops";
export type { FlipShift } from "./remap";

export type AugmentPolicy = {
  /** Mirror left-right with probability 1/2. Off for text, digits, anything with a handedness. */
  flip: boolean;
  /** Largest shift as a fraction of the side (0.125: 4 px on 32x32, as FixMatch); 0 = off. */
  translate: number;
  /** The RandAugment pool: the ops strong views may draw. */
  strongOps: StrongOpName[];
  /**
   * Ops drawn per strong view (with replacement, as FixMatch's np.random.choice). Every drawn op
   * is applied; FixMatch's RandAugment code applied each with probability 1/2, so its views were a
   * little milder on average (Identity in the pool keeps some views close to the weak one).
   */
  opsPerImage: number;
  /** Cutout square side as a fraction of the shorter side (0.5 as FixMatch); 0 = off. */
  cutout: number;
};

export const DEFAULT_POLICY: AugmentPolicy = {
  flip: true,
  translate: 0.125,
  strongOps: [...STRONG_OP_NAMES],
  opsPerImage: 2,
  cutout: 0.5,
};

/**
 * One step of how a strong view was made, in the order applied. "Flip" appears only when the
 * image was mirrored and "Translate" only when it moved (magnitude: the larger shift as a fraction
 * of that side; `shift` in pixels, +x right, +y down); then the RandAugment ops with their drawn
 * magnitudes; then "Cutout" with its side fraction.
 */
export type AppliedOp = {
  op: StrongOpName | "Cutout" | "Flip" | "Translate";
  magnitude: number;
  shift?: { x: number; y: number };
};

/** Throws a clear error naming every problem of a policy (a project's stored JSON, say). */
export function checkPolicy(policy: AugmentPolicy): void {
  const problems: string[] = [];
  if (!(policy.translate >= 0 && policy.translate < 1)) problems.push(`translate ${policy.translate} is not in [0, 1)`);
  if (!(policy.cutout >= 0 && policy.cutout <= 1)) problems.push(`cutout ${policy.cutout} is not in [0, 1]`);
  if (!Number.isInteger(policy.opsPerImage) || policy.opsPerImage < 0) problems.push(`opsPerImage ${policy.opsPerImage} is not a whole number >= 0`);
  const unknown = policy.strongOps.filter((op) => !(op in STRONG_OPS));
  if (unknown.length > 0) problems.push(`unknown strong ops: ${unknown.join(", ")}`);
  if (policy.opsPerImage > 0 && policy.strongOps.length === 0) problems.push("strongOps is empty but opsPerImage > 0");
  if (problems.length > 0) throw new Error(`invalid augmentation policy: ${problems.join("; ")}`);
}

function checkImages(images: tf.Tensor4D): void {
  const channels = images.shape[3];
  if (images.dtype !== "float32" || (channels !== 1 && channels !== 3)) {
    throw new Error(`augment expects float32 NHWC images with 1 or 3 channels, got ${images.dtype} ${JSON.stringify(images.shape)}`);
  }
}

/** Draws one image's flip and shift: FixMatch pads by round(translate * side) and crops at random. */
export function drawFlipShift(height: number, width: number, policy: AugmentPolicy, rng: Rng): FlipShift {
  // Reflect padding mirrors real pixels, so it cannot reach further than the side minus one.
  const padY = Math.min(Math.round(policy.translate * height), height - 1);
  const padX = Math.min(Math.round(policy.translate * width), width - 1);
  return {
    flip: policy.flip && rng.next() < 0.5,
    shiftY: padY > 0 ? padY - rng.int(2 * padY + 1) : 0,
    shiftX: padX > 0 ? padX - rng.int(2 * padX + 1) : 0,
  };
}

/**
 * Output image i is images[sourceOf[i]] (default: images[i]) flipped and shifted by draws[i], so
 * the views of a batch of images come from one gather of the images themselves.
 */
function applyFlipShift(images: tf.Tensor4D, draws: readonly FlipShift[], sourceOf?: readonly number[]): tf.Tensor4D {
  if (!sourceOf && draws.every((d) => !d.flip && d.shiftX === 0 && d.shiftY === 0)) return tf.clone(images);
  // Reflected indices always land inside the image: no fill value is ever read.
  return gatherPixels(images, flipShiftSourceMap(images.shape, draws, sourceOf), 0);
}

/**
 * Weak views of given draws (drawFlipShift): view i is images[sourceOf[i]] (default: images[i])
 * flipped and shifted by draws[i]. The draws can come from a different Rng per image, so a batch
 * of many images' views equals each image's own views made one at a time. Caller disposes.
 */
export function applyWeakDraws(images: tf.Tensor4D, draws: readonly FlipShift[], sourceOf?: readonly number[]): tf.Tensor4D {
  checkImages(images);
  return applyFlipShift(images, draws, sourceOf);
}

/** The weak view: per image, a random flip and a random reflect-padded shift. Caller disposes. */
export function weakAugment(images: tf.Tensor4D, rng: Rng, policy: AugmentPolicy = DEFAULT_POLICY): tf.Tensor4D {
  return weakAugmentApplied(images, rng, policy).images;
}

/** weakAugment, also saying per image what was done (Flip, Translate); same draws from the Rng. */
export function weakAugmentApplied(images: tf.Tensor4D, rng: Rng, policy: AugmentPolicy = DEFAULT_POLICY): { images: tf.Tensor4D; applied: AppliedOp[][] } {
  checkPolicy(policy);
  checkImages(images);
  const [n, h, w] = images.shape;
  const draws = Array.from({ length: n }, () => drawFlipShift(h, w, policy, rng));
  return { images: applyFlipShift(images, draws), applied: draws.map((d) => describeFlipShift(d, h, w)) };
}

function describeFlipShift({ flip, shiftX, shiftY }: FlipShift, h: number, w: number): AppliedOp[] {
  return [
    ...(flip ? [{ op: "Flip" as const, magnitude: 1 }] : []),
    ...(shiftX !== 0 || shiftY !== 0
      ? [{ op: "Translate" as const, magnitude: Math.max(Math.abs(shiftX) / w, Math.abs(shiftY) / h), shift: { x: shiftX, y: shiftY } }]
      : []),
  ];
}

/**
 * A magnitude drawn uniformly from the op's range. FixMatch's RandAugment variant draws a fresh
 * magnitude for every op and image instead of RandAugment's single global M, so there is no
 * magnitude to tune: the consistency loss sees the whole range.
 */
function drawMagnitude(op: StrongOp, rng: Rng): number {
  const [low, high] = op.range;
  return op.integer ? low + rng.int(high - low + 1) : rng.uniform(low, high);
}

type OpDraw = { op: StrongOpName; magnitude: number };

/** Every random choice of one strong view, drawn on the CPU before any tensor work. */
export type StrongDraw = { flipShift: FlipShift; ops: OpDraw[]; cutout: CutoutBox | null };

/** One strong view's draws, in the order strongAugment takes them from the Rng. */
export function drawStrong(height: number, width: number, policy: AugmentPolicy, rng: Rng): StrongDraw {
  const flipShift = drawFlipShift(height, width, policy, rng);
  const ops = Array.from({ length: policy.opsPerImage }, () => {
    const op = policy.strongOps[rng.int(policy.strongOps.length)];
    return { op, magnitude: drawMagnitude(STRONG_OPS[op], rng) };
  });
  const cutout = policy.cutout > 0 ? drawCutoutBox(height, width, policy.cutout, rng) : null;
  return { flipShift, ops, cutout };
}

/**
 * Applies draws[i] to image i. Images are grouped by op so each op runs once, batched, on the
 * images that drew it; the groups are then put back in batch order with one gather (gatherND,
 * the fast gather on wasm, see remap.ts).
 */
function applyDrawnOps(images: tf.Tensor4D, draws: readonly OpDraw[]): tf.Tensor4D {
  const groups = new Map<StrongOpName, number[]>();
  draws.forEach(({ op }, i) => {
    const group = groups.get(op);
    if (group) group.push(i);
    else groups.set(op, [i]);
  });
  if (groups.size === 1) return applyOp(draws[0].op, images, draws.map((d) => d.magnitude));
  return tf.tidy(() => {
    const parts: tf.Tensor4D[] = [];
    const order: number[] = [];
    for (const [op, indices] of groups) {
      const group = tf.gatherND(images, tf.tensor2d(indices, [indices.length, 1], "int32")) as tf.Tensor4D;
      parts.push(applyOp(op, group, indices.map((i) => draws[i].magnitude)));
      order.push(...indices);
    }
    const whereIsImage = new Int32Array(order.length);
    order.forEach((image, position) => (whereIsImage[image] = position));
    return tf.gatherND(tf.concat(parts), tf.tensor2d(whereIsImage, [whereIsImage.length, 1], "int32")) as tf.Tensor4D;
  });
}

/**
 * The strong view (weak flip and shift, RandAugment, Cutout) and, per image, what made it.
 * Caller disposes `images`.
 */
export function strongAugment(
  images: tf.Tensor4D,
  rng: Rng,
  policy: AugmentPolicy = DEFAULT_POLICY,
): { images: tf.Tensor4D; applied: AppliedOp[][] } {
  checkPolicy(policy);
  checkImages(images);
  const [n, h, w] = images.shape;
  const draws = Array.from({ length: n }, () => drawStrong(h, w, policy, rng));
  const applied = draws.map(({ flipShift, ops, cutout }): AppliedOp[] => [
    ...describeFlipShift(flipShift, h, w),
    ...ops,
    ...(cutout ? [{ op: "Cutout" as const, magnitude: policy.cutout }] : []),
  ]);
  return { images: applyStrongDraws(images, draws), applied };
}

/**
 * Strong views of given draws (drawStrong): view i is images[sourceOf[i]] (default: images[i])
 * made by draws[i]. Every op acts on each image on its own, so a view does not depend on which
 * other views share the batch. Caller disposes.
 */
export function applyStrongDraws(images: tf.Tensor4D, draws: readonly StrongDraw[], sourceOf?: readonly number[]): tf.Tensor4D {
  checkImages(images);
  const slots = draws[0]?.ops.length ?? 0;
  const withCutout = draws.filter((d) => d.cutout !== null).length;
  if (draws.some((d) => d.ops.length !== slots) || (withCutout !== 0 && withCutout !== draws.length)) {
    throw new Error("applyStrongDraws: every view must have the same number of ops, and Cutout on all or none");
  }
  return tf.tidy(() => {
    let x = applyFlipShift(images, draws.map((d) => d.flipShift), sourceOf);
    for (let slot = 0; slot < slots; slot++) x = applyDrawnOps(x, draws.map((d) => d.ops[slot]));
    return withCutout > 0 ? applyCutout(x, draws.map((d) => d.cutout!)) : x;
  });
}

/** One line for people: "Flip, Translate (+2,-1)px, Solarize 0.61, Posterize 5, Cutout 0.5". */
export function describeApplied(applied: readonly AppliedOp[]): string {
  const signed = (v: number) => (v > 0 ? `+${v}` : `${v}`);
  return applied
    .map(({ op, magnitude, shift }) => {
      if (op === "Flip") return op;
      if (op === "Translate") return shift ? `Translate (${signed(shift.x)},${signed(shift.y)})px` : op;
      if (op === "Cutout") return `Cutout ${magnitude}`;
      const { range, integer } = STRONG_OPS[op];
      if (range[0] === range[1]) return op;
      // "+ 0" turns a -0.00 from a tiny negative draw into 0.00.
      return `${op} ${integer ? magnitude : (Number(magnitude.toFixed(2)) + 0).toFixed(2)}`;
    })
    .join(", ");
}
