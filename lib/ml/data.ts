/**
 * What the training loop samples, all as frame numbers of the pixel cache (pixels.ts):
 * - the held-out split (heldout.ts): labels kept out of training, for evaluation and for the
 *   accuracy of pseudo-labels, chosen per class by a stable hash of the image id.
 * - class-balanced labeled batches: the classes take turns from a random offset, so each batch
 *   holds every class about equally however skewed the labels are; an image within its class is
 *   drawn uniformly with replacement.
 * - the unlabeled stream: shuffled epochs over the unlabeled pool (every image of the project,
 *   labeled ones too, as in the paper), each image once per epoch.
 * Every draw comes from the caller's Rng, so a seed, or a checkpointed Rng state plus the
 * stream's state, reproduces the batches.
 */
import { Rng } from "./rng";
import * as tf from "./tf";

export type LabeledExample = { imageId: number; frame: number; classIndex: number };

// The split lives in a tfjs-free module so the web server (review precision) uses the very same one.
export { HELD_OUT_FRACTION, splitHeldOut, stableUnit } from "./heldout";

export class LabeledSampler {
  private readonly byClass: LabeledExample[][];

  constructor(examples: readonly LabeledExample[]) {
    const groups = new Map<number, LabeledExample[]>();
    for (const ex of examples) groups.set(ex.classIndex, [...(groups.get(ex.classIndex) ?? []), ex]);
    this.byClass = [...groups.keys()].sort((a, b) => a - b).map((c) => groups.get(c)!);
    if (this.byClass.length === 0) throw new Error("no labeled images to train on");
  }

  next(batchSize: number, rng: Rng): LabeledExample[] {
    const offset = rng.int(this.byClass.length);
    return Array.from({ length: batchSize }, (_, i) => {
      const examples = this.byClass[(offset + i) % this.byClass.length];
      return examples[rng.int(examples.length)];
    });
  }
}

export type UnlabeledStreamState = { epoch: number; seed: number; position: number };

/** Positions 0..count-1 of the unlabeled pool in shuffled epochs. */
export class UnlabeledStream {
  private order: Uint32Array;
  private current: UnlabeledStreamState;

  constructor(
    private readonly count: number,
    private readonly rng: Rng,
    state?: UnlabeledStreamState,
  ) {
    if (count === 0) throw new Error("no unlabeled images");
    this.current = state ?? { epoch: 0, seed: rng.nextUint32(), position: 0 };
    this.order = this.shuffled(this.current.seed);
  }

  /** Each epoch's order comes from its own seed, so the state is three numbers, not a permutation. */
  private shuffled(seed: number): Uint32Array {
    const order = Uint32Array.from({ length: this.count }, (_, i) => i);
    const rng = new Rng(seed);
    for (let i = this.count - 1; i > 0; i--) {
      const j = rng.int(i + 1);
      [order[i], order[j]] = [order[j], order[i]];
    }
    return order;
  }

  next(n: number): number[] {
    const out: number[] = [];
    while (out.length < n) {
      if (this.current.position === this.count) {
        this.current = { epoch: this.current.epoch + 1, seed: this.rng.nextUint32(), position: 0 };
        this.order = this.shuffled(this.current.seed);
      }
      out.push(this.order[this.current.position++]);
    }
    return out;
  }

  state(): UnlabeledStreamState {
    return { ...this.current };
  }
}

/** uint8 frames of the cache -> float32 NHWC in [0, 1]. Caller disposes. */
export function framesToTensor(cache: { size: number; channels: number; pixels: Uint8Array }, frames: readonly number[]): tf.Tensor4D {
  const { size, channels, pixels } = cache;
  const frameBytes = size * size * channels;
  const batch = new Float32Array(frames.length * frameBytes);
  frames.forEach((frame, i) => {
    const src = pixels.subarray(frame * frameBytes, (frame + 1) * frameBytes);
    for (let p = 0; p < frameBytes; p++) batch[i * frameBytes + p] = src[p] / 255;
  });
  return tf.tensor4d(batch, [frames.length, size, size, channels]);
}
