/**
 * The two ways of running a FixMatch step give the same loss and the same gradients when the
 * model has no batch norm (the one thing they are allowed to differ in), on a tiny dense model
 * whose weak logits put some images above the threshold and some below.
 */
import { beforeAll, describe, expect, it } from "vitest";
import { initBackend } from "./backend";
import { disposeStep, fixmatchStep, type StepViews } from "./fixmatch_step";
import { seededValues } from "./testing";
import * as tf from "./tf";

beforeAll(async () => {
  await initBackend({ force: "cpu", log: () => {} });
});

const SIZE = 2;
const CLASSES = 3;

/** flatten -> dense(3) with fixed weights: logits are a linear map of the pixels. */
function linearModel(): tf.LayersModel {
  const model = tf.sequential({ layers: [tf.layers.flatten({ inputShape: [SIZE, SIZE, 1] }), tf.layers.dense({ units: CLASSES, name: "logits" })] });
  const kernel = seededValues(SIZE * SIZE * CLASSES, 3).map((v) => 6 * v - 3);
  model.getLayer("logits").setWeights([tf.tensor2d(kernel, [SIZE * SIZE, CLASSES]), tf.tensor1d([0.1, -0.2, 0.05])]);
  return model;
}

function views(unlabeled: number, seed: number): StepViews {
  const image = (n: number, s: number) => tf.tensor4d(seededValues(n * SIZE * SIZE, s), [n, SIZE, SIZE, 1]);
  return { labeled: image(2, seed), labels: tf.tensor1d([0, 2], "int32"), weak: image(unlabeled, seed + 1), strong: image(unlabeled, seed + 2) };
}

const gradArrays = (grads: tf.NamedTensorMap) => Object.fromEntries(Object.entries(grads).map(([name, g]) => [name, Array.from(g.dataSync())]));

describe("fixmatchStep", () => {
  it("gives the paper's loss and gradients when pseudo-labelling first", () => {
    const model = linearModel();
    const trainable = model.trainableWeights.map((w) => w.read() as tf.Variable);
    const v = views(8, 20);
    const options = { threshold: 0.7, lambdaU: 1.5 };
    const together = fixmatchStep(model, trainable, v, { ...options, pseudoLabelFirst: false });
    const first = fixmatchStep(model, trainable, v, { ...options, pseudoLabelFirst: true });

    const mask = Array.from(together.out.mask.dataSync());
    const passed = mask.filter((m) => m === 1).length;
    // The case worth testing: some strong views are skipped, some are not.
    expect(passed).toBeGreaterThan(0);
    expect(passed).toBeLessThan(8);
    expect(Array.from(first.out.mask.dataSync())).toEqual(mask);
    expect(first.loss.dataSync()[0]).toBeCloseTo(together.loss.dataSync()[0], 6);
    expect(first.out.unsupervised.dataSync()[0]).toBeGreaterThan(0);
    const [a, b] = [gradArrays(together.grads), gradArrays(first.grads)];
    expect(Object.keys(b).sort()).toEqual(Object.keys(a).sort());
    for (const name of Object.keys(a)) a[name].forEach((value, i) => expect(b[name][i]).toBeCloseTo(value, 6));
    // Labeled + weak + only the strong views that passed, against labeled + weak + all strong.
    expect(first.imagesForward).toBe(2 + 8 + passed);
    expect(together.imagesForward).toBe(2 + 8 + 8);
    // Strong logits: the real ones where the mask is 1, zero rows elsewhere.
    const strongTogether = together.logitsStrong.arraySync();
    first.logitsStrong.arraySync().forEach((row, i) => row.forEach((x, c) => expect(x).toBeCloseTo(mask[i] ? strongTogether[i][c] : 0, 6)));
    [together, first].forEach(disposeStep);
    tf.dispose(v as never);
    model.dispose();
  });

  it("runs every strong view when asked to, and none when nothing passes", () => {
    const model = linearModel();
    const trainable = model.trainableWeights.map((w) => w.read() as tf.Variable);
    const v = views(6, 40);
    const all = fixmatchStep(model, trainable, v, { threshold: 0.7, lambdaU: 1, pseudoLabelFirst: true, allStrongViews: true });
    const together = fixmatchStep(model, trainable, v, { threshold: 0.7, lambdaU: 1, pseudoLabelFirst: false });
    expect(all.imagesForward).toBe(2 + 6 + 6);
    expect(Array.from(all.logitsStrong.dataSync()).map((x) => x.toFixed(5))).toEqual(Array.from(together.logitsStrong.dataSync()).map((x) => x.toFixed(5)));

    const before = tf.memory().numTensors;
    const none = fixmatchStep(model, trainable, v, { threshold: 1.01, lambdaU: 1, pseudoLabelFirst: true });
    expect(none.imagesForward).toBe(2 + 6);
    expect(none.out.unsupervised.dataSync()[0]).toBe(0);
    expect(none.loss.dataSync()[0]).toBeCloseTo(none.out.supervised.dataSync()[0], 6);
    disposeStep(none);
    expect(tf.memory().numTensors).toBe(before);
    [all, together].forEach(disposeStep);
    tf.dispose(v as never);
    model.dispose();
  });
});
