/**
 * fixmatchLoss on tiny logits whose values are worked out by hand:
 *   CE([a, b], label 0) = log(1 + e^(b - a)), so log(1 + e^-1) = 0.3132617, log(1 + e^-2) = 0.1269280.
 */
import { beforeAll, describe, expect, it } from "vitest";
import { initBackend } from "./backend";
import { cosineLr, fixmatchLoss, FIXMATCH_DEFAULTS } from "./fixmatch";
import { DistributionAlignment, FlexThresholds } from "./fixmatch_extras";
import * as tf from "./tf";

const CE1 = Math.log(1 + Math.exp(-1));
const CE2 = Math.log(1 + Math.exp(-2));

beforeAll(async () => {
  await initBackend({ force: "cpu", log: () => {} });
});

// Labeled: CE2 and CE1 (supervised = mean). Unlabeled (mu*B = 4), threshold 0.9:
//   weak [3,0] -> p 0.953, class 0, in;  [0,0] -> 0.5, out;  [0,3] -> 0.953, class 1, in;  [1,0] -> 0.731, out.
//   strong rows that count: [1,0] vs class 0 -> CE1; [0,2] vs class 1 -> CE2. The others must not matter.
const inputs = () => ({
  logitsLabeled: tf.tensor2d([[2, 0], [0, 1]]),
  labels: tf.tensor1d([0, 1], "int32"),
  logitsWeak: tf.tensor2d([[3, 0], [0, 0], [0, 3], [1, 0]]),
  logitsStrong: tf.tensor2d([[1, 0], [5, 5], [0, 2], [9, 9]]),
});

describe("fixmatchLoss", () => {
  it("matches the hand-computed value, mask and pseudo-labels", async () => {
    const x = inputs();
    const out = fixmatchLoss({ ...x, threshold: 0.9, lambdaU: 1 });
    expect(await out.supervised.array()).toBeCloseTo((CE2 + CE1) / 2, 5);
    // Mean over all four unlabeled images, not over the two that passed (that would be (CE1 + CE2) / 2).
    expect(await out.unsupervised.array()).toBeCloseTo((CE1 + CE2) / 4, 5);
    expect(await out.loss.array()).toBeCloseTo((CE2 + CE1) / 2 + (CE1 + CE2) / 4, 5);
    expect(await out.mask.array()).toEqual([1, 0, 1, 0]);
    expect(await out.maskRate.array()).toBe(0.5);
    const pseudo = await out.pseudoLabels.array();
    expect([pseudo[0], pseudo[2]]).toEqual([0, 1]);
    tf.dispose([x, out] as never);
  });

  it("scales the unlabeled term by lambdaU", async () => {
    const x = inputs();
    const out = fixmatchLoss({ ...x, threshold: 0.9, lambdaU: 2.5 });
    expect(await out.loss.array()).toBeCloseTo((CE2 + CE1) / 2 + (2.5 * (CE1 + CE2)) / 4, 5);
    tf.dispose([x, out] as never);
  });

  it("keeps a prediction exactly at the threshold (>=)", async () => {
    // softmax([0, 0]) is exactly [0.5, 0.5] in float32.
    const out = fixmatchLoss({
      logitsLabeled: tf.tensor2d([[0, 0]]),
      labels: tf.tensor1d([0], "int32"),
      logitsWeak: tf.tensor2d([[0, 0], [0, -1]]),
      logitsStrong: tf.tensor2d([[0, 0], [0, 0]]),
      threshold: 0.5,
      lambdaU: 1,
    });
    expect(await out.mask.array()).toEqual([1, 1]);
    const above = fixmatchLoss({
      logitsLabeled: tf.tensor2d([[0, 0]]),
      labels: tf.tensor1d([0], "int32"),
      logitsWeak: tf.tensor2d([[0, 0]]),
      logitsStrong: tf.tensor2d([[0, 0]]),
      threshold: 0.5000001,
      lambdaU: 1,
    });
    expect(await above.mask.array()).toEqual([0]);
  });

  it("sends no gradient into the weak logits, and the expected one into the strong logits", async () => {
    const x = inputs();
    const [gWeak, gStrong, gLabeled] = tf.grads((weak: tf.Tensor, strong: tf.Tensor, labeled: tf.Tensor) => {
      const out = fixmatchLoss({
        logitsLabeled: labeled as tf.Tensor2D,
        labels: x.labels,
        logitsWeak: weak as tf.Tensor2D,
        logitsStrong: strong as tf.Tensor2D,
        threshold: 0.9,
        lambdaU: 1,
      });
      return out.loss;
    })([x.logitsWeak, x.logitsStrong, x.logitsLabeled]);
    expect(Array.from(await gWeak.data()).every((g) => g === 0)).toBe(true);
    // d CE / d logits = softmax - onehot, divided by mu*B = 4; masked-out rows get nothing.
    const s = 1 / (1 + Math.exp(1)); // softmax([1, 0])[1] = 0.2689
    const t = 1 / (1 + Math.exp(2)); // softmax([0, 2])[0] = 0.1192
    const expected = [-s / 4, s / 4, 0, 0, t / 4, -t / 4, 0, 0];
    Array.from(await gStrong.data()).forEach((g, i) => expect(g).toBeCloseTo(expected[i], 6));
    expect(Array.from(await gLabeled.data()).some((g) => g !== 0)).toBe(true);
  });

  it("uses per-class thresholds and distribution alignment when given", async () => {
    const x = inputs();
    // Class 1 needs only 0.7: [1,0] still gives class 0 (0.731 < 0.9: out); class 1 rows unaffected.
    const perClass = fixmatchLoss({ ...x, threshold: tf.tensor1d([0.9, 0.7]), lambdaU: 1 });
    expect(await perClass.mask.array()).toEqual([1, 0, 1, 0]);
    const lowZero = fixmatchLoss({ ...x, threshold: tf.tensor1d([0.7, 0.9]), lambdaU: 1 });
    expect(await lowZero.mask.array()).toEqual([1, 0, 1, 1]);
    // Alignment factor [1, 3] turns [0.5, 0.5] into [0.25, 0.75]: class 1.
    const aligned = fixmatchLoss({ ...x, threshold: 0.7, lambdaU: 1, alignment: tf.tensor1d([1, 3]) });
    const probs = (await aligned.weakProbs.array()) as number[][];
    expect(probs[1][1]).toBeCloseTo(0.75, 6);
    expect((await aligned.pseudoLabels.array())[1]).toBe(1);
  });
});

describe("defaults and extras", () => {
  it("has the paper's defaults and cosine schedule", () => {
    expect(FIXMATCH_DEFAULTS).toMatchObject({ threshold: 0.95, lambdaU: 1, mu: 7, batchSize: 64, lr: 0.03, momentum: 0.9, nesterov: true, weightDecay: 5e-4, emaDecay: 0.999 });
    expect(cosineLr(0.03, 0, 100)).toBe(0.03);
    expect(cosineLr(0.03, 100, 100)).toBeCloseTo(0.03 * Math.cos((7 * Math.PI) / 16), 10);
  });

  it("FlexThresholds lowers the threshold of rarely confident classes", () => {
    const flex = new FlexThresholds(2, 4, 0.9);
    // All unused: beta = 0 for both, threshold 0 (FlexMatch's warm-up starts permissive).
    expect(flex.thresholds()).toEqual([0, 0]);
    flex.update([0, 1, 2, 3], [0, 0, 0, 1], [0.95, 0.95, 0.95, 0.95]);
    // counts [3, 1], norm 3: beta [1, 1/3] -> T = 0.9 * beta / (2 - beta) = [0.9, 0.18].
    const [t0, t1] = flex.thresholds();
    expect(t0).toBeCloseTo(0.9, 10);
    expect(t1).toBeCloseTo((0.9 * (1 / 3)) / (2 - 1 / 3), 10);
    expect(new FlexThresholds(2, 4, 0.9, flex.state()).thresholds()).toEqual(flex.thresholds());
  });

  it("DistributionAlignment moves its running mean and gives prior / mean", async () => {
    const da = new DistributionAlignment([0.5, 0.5], 0.5);
    da.update([0.9, 0.1]); // mean 0.5 * [0.5, 0.5] + 0.5 * [0.9, 0.1] = [0.7, 0.3]
    expect(da.state().runningMean.map((v) => +v.toFixed(6))).toEqual([0.7, 0.3]);
    const f = await da.factor().array();
    expect(f[0]).toBeCloseTo(0.5 / 0.7, 6);
    expect(f[1]).toBeCloseTo(0.5 / 0.3, 6);
  });
});
