import { beforeAll, describe, expect, it } from "vitest";
import * as tf from "../tf";
import { buildResNet } from "./resnet";
import { buildWideResNet } from "./wrn";

beforeAll(async () => {
  await import("@tensorflow/tfjs-backend-cpu");
  await tf.setBackend("cpu");
});

const weightsOf = (model: tf.LayersModel) => model.getWeights().map((w) => Array.from(w.dataSync()));

describe("seeded model builders", () => {
  it("the same seed gives the same initial weights, another seed other weights", () => {
    const config = { inputSize: 8, channels: 1, numClasses: 2, width: 4, blocks: 1 };
    const a = weightsOf(buildResNet({ ...config, seed: 7 }));
    expect(weightsOf(buildResNet({ ...config, seed: 7 }))).toEqual(a);
    expect(weightsOf(buildResNet({ ...config, seed: 8 }))).not.toEqual(a);
    const wrn = { inputSize: 8, channels: 3, numClasses: 2, depth: 10, widenFactor: 1, seed: 3 };
    expect(weightsOf(buildWideResNet(wrn))).toEqual(weightsOf(buildWideResNet(wrn)));
  });
});
