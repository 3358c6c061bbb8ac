import { describe, expect, it } from "vitest";
import { Rng } from "./rng";

const draw = (rng: Rng, n: number) => Array.from({ length: n }, () => rng.next());

describe("Rng", () => {
  it("gives the same stream for the same seed and a different one for another seed", () => {
    expect(draw(new Rng(42), 20)).toEqual(draw(new Rng(42), 20));
    expect(draw(new Rng(42), 20)).not.toEqual(draw(new Rng(43), 20));
  });

  it("resumes exactly from a saved state, also through JSON", () => {
    const rng = new Rng(7);
    draw(rng, 5);
    const saved = JSON.parse(JSON.stringify(rng.state()));
    const expected = draw(rng, 50);
    expect(draw(Rng.fromState(saved), 50)).toEqual(expected);
  });

  it("rejects a state that is not four uint32 words", () => {
    expect(() => Rng.fromState([1, 2, 3])).toThrow(/four uint32/);
    expect(() => Rng.fromState([1, 2, 3, -1])).toThrow(/four uint32/);
    expect(() => Rng.fromState([1, 2, 3, 0.5])).toThrow(/four uint32/);
  });

  it("draws next() in [0, 1) with a plausible mean and int(n) covering 0..n-1 evenly", () => {
    const rng = new Rng(1);
    const values = draw(rng, 20_000);
    expect(Math.min(...values)).toBeGreaterThanOrEqual(0);
    expect(Math.max(...values)).toBeLessThan(1);
    expect(values.reduce((a, b) => a + b, 0) / values.length).toBeCloseTo(0.5, 1);
    const counts = new Array(5).fill(0);
    for (let i = 0; i < 10_000; i++) counts[rng.int(5)]++;
    for (const c of counts) expect(c).toBeGreaterThan(1800);
    expect(() => rng.int(0)).toThrow();
  });

  it("uniform(low, high) stays in its range", () => {
    const rng = new Rng(3);
    for (let i = 0; i < 1000; i++) {
      const v = rng.uniform(-0.3, 0.3);
      expect(v).toBeGreaterThanOrEqual(-0.3);
      expect(v).toBeLessThan(0.3);
    }
  });
});
