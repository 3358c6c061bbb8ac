/**
 * The training backend (wasm) makes the same views as the cpu backend the other tests run on:
 * every op at two magnitudes, and whole weak and strong views from one seed.
 */
import { beforeAll, expect, it } from "vitest";
import { initBackend } from "../backend";
import { Rng } from "../rng";
import { onBackend, seededValues } from "../testing";
import * as tf from "../tf";
import { applyOp, STRONG_OP_NAMES, STRONG_OPS, strongAugment, weakAugment } from "./index";

const TOLERANCE = 1e-5;
const SHAPE: [number, number, number, number] = [2, 8, 8, 3];
const PIXELS = seededValues(tf.util.sizeFromShape(SHAPE), 17).map((v) => (v + 1) / 2);

beforeAll(async () => {
  await initBackend({ force: "wasm", log: () => {} });
});

function maxDifference(a: Float32Array, b: Float32Array): number {
  return a.reduce((worst, v, i) => Math.max(worst, Math.abs(v - b[i])), 0);
}

it("every op, and weak and strong views, agree between wasm and cpu", async () => {
  // A quarter and three quarters into each range: two different magnitudes, no exact boundaries.
  const views = () =>
    tf.tidy(() => {
      const images = tf.tensor4d(PIXELS, SHAPE);
      const perOp = STRONG_OP_NAMES.map((name) => {
        const [low, high] = STRONG_OPS[name].range;
        return applyOp(name, images, [low + 0.25 * (high - low), low + 0.75 * (high - low)]);
      });
      return [...perOp, weakAugment(images, new Rng(1)), strongAugment(images, new Rng(2)).images];
    });
  const onCpu = await onBackend("cpu", views);
  const onWasm = await onBackend("wasm", views);
  const names = [...STRONG_OP_NAMES, "weak view", "strong view"];
  names.forEach((name, i) => expect(maxDifference(onWasm[i], onCpu[i]), name).toBeLessThanOrEqual(TOLERANCE));
});
