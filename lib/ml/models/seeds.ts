/**
 * One seed per weight initializer, so a model built twice from the same seed starts from the same
 * weights: tfjs has no global seed, and unseeded initializers draw from Math.random. Without a
 * seed the initializers stay random.
 */
export type SeedSequence = () => number | undefined;

export function seedSequence(seed?: number): SeedSequence {
  let next = 0;
  return () => (seed === undefined ? undefined : seed * 10_007 + next++);
}
