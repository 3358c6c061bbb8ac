/**
 * The held-out split, free of TensorFlow.js so the web server can reproduce it: review measures
 * the precision of a run's proposals on exactly the human labels that run did not train on
 * (lib/review/precision.ts), and the trainer holds them out with this same function (data.ts).
 *
 * Per class, the images with the lowest stable hash of their id are held out: round(20%) of them,
 * at least 1 when the class has 2 or more labels, never all of them (a class with a single label
 * trains on it). Hashing the id, not drawing at random, keeps an image on the same side from run
 * to run, and adding labels moves few images across.
 */

export const HELD_OUT_FRACTION = 0.2;

/** A fixed pseudo-random number in [0, 1) for an image id (murmur3's 32-bit finaliser). */
export function stableUnit(imageId: number): number {
  let h = imageId >>> 0;
  h = Math.imul(h ^ (h >>> 16), 0x85ebca6b);
  h = Math.imul(h ^ (h >>> 13), 0xc2b2ae35);
  return ((h ^ (h >>> 16)) >>> 0) / 2 ** 32;
}

export function splitHeldOut<T extends { imageId: number; classIndex: number }>(
  labeled: readonly T[],
  fraction = HELD_OUT_FRACTION,
): { train: T[]; heldOut: T[] } {
  const byClass = new Map<number, T[]>();
  for (const ex of labeled) byClass.set(ex.classIndex, [...(byClass.get(ex.classIndex) ?? []), ex]);
  const train: T[] = [];
  const heldOut: T[] = [];
  for (const examples of byClass.values()) {
    const n = examples.length;
    const held = n < 2 ? 0 : Math.min(n - 1, Math.max(1, Math.round(fraction * n)));
    const ranked = [...examples].sort((a, b) => stableUnit(a.imageId) - stableUnit(b.imageId) || a.imageId - b.imageId);
    heldOut.push(...ranked.slice(0, held));
    train.push(...ranked.slice(held));
  }
  return { train, heldOut };
}
