/**
 * The instant heads on tiny features the test makes: the probe's objective against a hand
 * computation and its gradient at the trained weights (near zero: it converged), the class-mean
 * head's decisions against a hand-computed cosine nearest mean, and the standardisation folded into
 * the first layer giving the same logits on raw features.
 */
import { beforeAll, expect, it } from "vitest";
import { initBackend } from "../backend";
import { relativeError, seededValues } from "../testing";
import * as tf from "../tf";
import { argmaxRow, buildHead, classMeanHead, fitStandardizer, foldStandardizer, headProbs, probeLoss, standardize, trainLinearProbe } from "./heads";

beforeAll(async () => {
  await initBackend({ force: "wasm", log: () => {} });
});

it("the probe's objective is mean cross-entropy plus l2/2 |W|^2, as computed by hand", () => {
  const x = [
    [1, 2],
    [-1, 0.5],
    [0, -1],
  ];
  const y = [0, 1, 2];
  const W = [
    [0.5, -0.2, 0.1],
    [0.3, 0.4, -0.6],
  ];
  const b = [0.1, 0, -0.1];
  let ce = 0;
  x.forEach((row, i) => {
    const logits = [0, 1, 2].map((c) => row[0] * W[0][c] + row[1] * W[1][c] + b[c]);
    const logZ = Math.log(logits.reduce((s, l) => s + Math.exp(l), 0));
    ce += (logZ - logits[y[i]]) / 3;
  });
  const l2 = 0.5;
  const expected = ce + (l2 / 2) * W.flat().reduce((s, w) => s + w * w, 0);
  const loss = probeLoss(tf.tensor2d(x), tf.tensor1d(y, "int32"), tf.tensor2d(W), tf.tensor1d(b), l2, 3);
  expect(loss.dataSync()[0]).toBeCloseTo(expected, 5);
});

it("the trained probe sits at a minimum of its objective (gradient ~0) and classifies its labels", () => {
  const dim = 6;
  const n = 12;
  const noise = seededValues(n * dim, 3);
  const x = new Float32Array(n * dim);
  const classes = Array.from({ length: n }, (_, i) => i % 3);
  for (let i = 0; i < n; i++) for (let d = 0; d < dim; d++) x[i * dim + d] = (d === classes[i] ? 2 : 0) + noise[i * dim + d];
  const rows = [...Array(n).keys()];
  const probe = trainLinearProbe(x, dim, 3, { rows, classes }, { l2: 0.05, steps: 600, lr: 0.05 });
  const [kernel, bias] = probe.getWeights() as [tf.Tensor2D, tf.Tensor1D];
  const grads = tf.grads((k: tf.Tensor, b: tf.Tensor) => probeLoss(tf.tensor2d(x, [n, dim]), tf.tensor1d(classes, "int32"), k as tf.Tensor2D, b as tf.Tensor1D, 0.05, 3))([kernel, bias]);
  const gradNorm = Math.hypot(...grads.flatMap((g) => Array.from(g.dataSync())));
  const weightNorm = Math.hypot(...kernel.dataSync());
  expect(weightNorm).toBeGreaterThan(0.5);
  expect(gradNorm).toBeLessThan(1e-3);
  const probs = headProbs(probe, x, dim);
  expect(classes.every((c, i) => argmaxRow(probs, i, 3) === c)).toBe(true);
});

it("the class-mean head picks the labeled mean of highest cosine, whatever the image's norm", () => {
  const dim = 4;
  const labeledX = [
    [1, 0, 0, 0.2],
    [0.8, 0.1, 0, 0],
    [0, 1, 0.1, 0],
    [0, 0.9, 0, 0.1],
  ];
  const pool = Array.from({ length: 30 }, (_, i) => Array.from(seededValues(dim, 40 + i)).map((v, d) => v * (1 + (i % 5)) + (d === i % 2 ? 0.3 : 0)));
  const x = Float32Array.from([...labeledX, ...pool].flat());
  const labeled = { rows: [0, 1, 2, 3], classes: [0, 0, 1, 1] };
  const head = classMeanHead(x, dim, 2, labeled);
  const means = [0, 1].map((c) => [0, 1, 2, 3].map((d) => labeledX.filter((_, i) => labeled.classes[i] === c).reduce((s, r) => s + r[d], 0)));
  const cos = (a: number[], b: number[]) => a.reduce((s, v, d) => s + v * b[d], 0) / (Math.hypot(...a) * Math.hypot(...b));
  const probs = headProbs(head, x, dim);
  pool.forEach((p, i) => {
    const expected = cos(p, means[0]) >= cos(p, means[1]) ? 0 : 1;
    expect(argmaxRow(probs, 4 + i, 2)).toBe(expected);
  });
});

it("folding the standardisation into the first layer gives the same logits on raw features (linear and hidden heads)", () => {
  const dim = 5;
  const raw = Float32Array.from(seededValues(40 * dim, 9), (v, i) => 3 * v + (i % dim) * 10);
  const st = fitStandardizer(raw, dim);
  const z = standardize(raw, st);
  // Standardised: mean ~0 and std ~1 per feature.
  const col = Array.from({ length: 40 }, (_, i) => z[i * dim + 2]);
  expect(Math.abs(col.reduce((s, v) => s + v, 0) / 40)).toBeLessThan(1e-5);
  expect(Math.sqrt(col.reduce((s, v) => s + v * v, 0) / 40)).toBeCloseTo(1, 4);
  for (const hidden of [0, 7]) {
    const head = buildHead(dim, 3, hidden, 11);
    const folded = foldStandardizer(head, st);
    const a = tf.tidy(() => (head.predict(tf.tensor2d(z, [40, dim])) as tf.Tensor).dataSync());
    const b = tf.tidy(() => (folded.predict(tf.tensor2d(raw, [40, dim])) as tf.Tensor).dataSync());
    expect(relativeError(b, a)).toBeLessThan(1e-4);
  }
});
