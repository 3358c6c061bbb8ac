import { expect, it } from "vitest";
import { Rng } from "./rng";
import { fitSoftmaxHead, predictSoftmaxHead } from "./softmax-regression";

it("fits a softmax head that separates linearly separable classes, with probabilities that sum to 1", () => {
  const rng = new Rng(1);
  const n = 300;
  const dim = 4;
  const x = new Float32Array(n * dim);
  const y: number[] = [];
  for (let i = 0; i < n; i++) {
    const c = i % 3;
    y.push(c);
    // Class c sits at +5 on axis c, on a feature scale of 100 (standardisation must cope), noise 1.
    for (let d = 0; d < dim; d++) x[i * dim + d] = 100 * ((d === c ? 5 : 0) + (rng.next() - 0.5) * 2);
  }
  const head = fitSoftmaxHead(x, n, dim, y, 3);
  let right = 0;
  let meanTrueP = 0;
  for (let i = 0; i < n; i++) {
    const p = predictSoftmaxHead(head, x.subarray(i * dim, (i + 1) * dim));
    expect(p.reduce((a, b) => a + b, 0)).toBeCloseTo(1, 10);
    if (p.indexOf(Math.max(...p)) === y[i]) right++;
    meanTrueP += p[y[i]] / n;
  }
  expect(right).toBe(n);
  expect(meanTrueP).toBeGreaterThan(0.9);
});

it("on pure noise it stays near the class prior instead of inventing confidence", () => {
  const rng = new Rng(2);
  const n = 400;
  const x = Float32Array.from({ length: n * 3 }, () => rng.next());
  const y = Array.from({ length: n }, (_, i) => i % 2);
  const head = fitSoftmaxHead(x, n, 3, y, 2);
  const p = predictSoftmaxHead(head, [0.5, 0.5, 0.5]);
  expect(Math.abs(p[0] - 0.5)).toBeLessThan(0.1);
});
