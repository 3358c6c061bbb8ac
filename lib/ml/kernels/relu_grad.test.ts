/**
 * The one-pass ReLU / ReLU6 gradient on wasm (relu_grad.ts) gives the cpu backend's result bit
 * for bit, at the edges that a mask built from float bits could get wrong: -0 and +0, the smallest
 * denormals either side of 0, 6 and its neighbours, infinities and huge values.
 */
import { beforeAll, describe, expect, it } from "vitest";
import { initBackend } from "../backend";
import { onBackend, seededValues } from "../testing";
import * as tf from "../tf";
import { RELU_GRAD } from "./relu_grad";

beforeAll(async () => {
  await initBackend({ force: "wasm", log: () => {} });
});

const below6 = new Float32Array(new Int32Array([0x40bfffff]).buffer)[0];
const above6 = new Float32Array(new Int32Array([0x40c00001]).buffer)[0];
const edges = [-0, 0, 1e-45, -1e-45, 1.2e-38, -1.2e-38, 0.5, -0.5, 6, below6, above6, -6, 1e30, -1e30, Infinity, -Infinity, 3];
const random = Array.from(seededValues(7 * 5 * 3, 5), (v) => v * 8); // [-8, 8): both sides of 0 and 6
const xValues = Float32Array.from([...edges, ...random]);
const dyValues = Float32Array.from(seededValues(xValues.length, 6), (v, i) => (i % 9 === 0 ? -v - 2 : v + 0.25));

describe("wasm ReLU and ReLU6 gradients equal the cpu backend's bit for bit", () => {
  it.each([
    ["relu", (x: tf.Tensor) => tf.relu(x)],
    ["relu6", (x: tf.Tensor) => tf.relu6(x)],
    ["relu on a 4-D activation", (x: tf.Tensor) => tf.relu(tf.reshape(x, [1, 2, xValues.length / 2, 1]))],
  ] as const)("%s", async (_name, activation) => {
    const run = () => {
      const x = tf.tensor1d(xValues);
      const dy = tf.tidy(() => tf.reshape(tf.tensor1d(dyValues), activation(x).shape));
      const dx = tf.grad(activation)(x, dy);
      tf.dispose([x, dy]);
      return [dx];
    };
    const [ref] = await onBackend("cpu", run);
    const [got] = await onBackend("wasm", run);
    expect(Array.from(got)).toEqual(Array.from(ref));
    // The mask kept something and dropped something: the check is not vacuous.
    expect(got.some((v) => v === 0)).toBe(true);
    expect(got.some((v) => v !== 0)).toBe(true);
    await tf.setBackend("wasm");
    const { kernelNames } = await tf.profile(() => void tf.dispose(run()));
    expect(kernelNames).toContain(RELU_GRAD);
    expect(kernelNames).not.toContain("Step");
  });
});
