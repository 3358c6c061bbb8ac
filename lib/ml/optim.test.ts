/** Sgd: two steps worked out by hand on a kernel and a bias; the bias is never decayed. */
import { beforeAll, expect, it } from "vitest";
import { initBackend } from "./backend";
import { isKernel, Sgd } from "./optim";
import * as tf from "./tf";

beforeAll(async () => {
  await initBackend({ force: "cpu", log: () => {} });
});

function close(actual: ArrayLike<number>, expected: number[]): void {
  expect(actual.length).toBe(expected.length);
  expected.forEach((e, i) => expect(actual[i]).toBeCloseTo(e, 6));
}

it("recognises kernels by name", () => {
  expect(isKernel("s1b1_conv1/kernel")).toBe(true);
  expect(isKernel("logits/kernel_3")).toBe(true);
  expect(isKernel("logits/bias")).toBe(false);
  expect(isKernel("stem_bn/gamma")).toBe(false);
  expect(isKernel("stem_bn/beta")).toBe(false);
});

it("takes Nesterov steps with weight decay on the kernel only, and resumes from its state", () => {
  const kernel = tf.variable(tf.tensor1d([1, 2]), true, "toy/kernel");
  const bias = tf.variable(tf.tensor1d([0.5]), true, "toy/bias");
  const grads = () => ({ "toy/kernel": tf.tensor1d([0.1, -0.2]), "toy/bias": tf.tensor1d([0.3]) });
  const sgd = new Sgd([kernel, bias], { momentum: 0.9, nesterov: true, weightDecay: 0.01 });

  // Step 1, kernel: g = grad + 0.01 w = [0.11, -0.18]; v = g; w -= 0.1 (g + 0.9 v) = 0.1 * 1.9 g.
  // Bias: g = 0.3 (no decay); b = 0.5 - 0.1 * 1.9 * 0.3 = 0.443.
  sgd.step(grads(), 0.1);
  close(kernel.dataSync(), [0.9791, 2.0342]);
  close(bias.dataSync(), [0.443]);

  // Step 2, kernel: g = grad + 0.01 * [0.9791, 2.0342] = [0.109791, -0.179658];
  // v = 0.9 [0.11, -0.18] + g = [0.208791, -0.341658]; w -= 0.1 (g + 0.9 v) = [0.949330, 2.082915].
  // Bias: v = 0.9 * 0.3 + 0.3 = 0.57; b = 0.443 - 0.1 (0.3 + 0.513) = 0.3617.
  const saved = sgd.state();
  const savedKernel = kernel.dataSync().slice();
  const savedBias = bias.dataSync().slice();
  sgd.step(grads(), 0.1);
  close(kernel.dataSync(), [0.94932971, 2.08291502]);
  close(bias.dataSync(), [0.3617]);

  // A fresh optimizer loaded with the saved buffers repeats step 2 exactly.
  kernel.assign(tf.tensor1d(savedKernel));
  bias.assign(tf.tensor1d(savedBias));
  const resumed = new Sgd([kernel, bias], { momentum: 0.9, nesterov: true, weightDecay: 0.01 });
  resumed.loadState(saved);
  resumed.step(grads(), 0.1);
  close(kernel.dataSync(), [0.94932971, 2.08291502]);
  close(bias.dataSync(), [0.3617]);
  tf.dispose([kernel, bias]);
  sgd.dispose();
  resumed.dispose();
});

it("without Nesterov steps by the velocity", () => {
  const w = tf.variable(tf.tensor1d([1]), true, "plain/kernel");
  const sgd = new Sgd([w], { momentum: 0.5, nesterov: false, weightDecay: 0 });
  sgd.step({ "plain/kernel": tf.tensor1d([1]) }, 0.1); // v = 1, w = 0.9
  sgd.step({ "plain/kernel": tf.tensor1d([1]) }, 0.1); // v = 1.5, w = 0.75
  close(w.dataSync(), [0.75]);
  sgd.dispose();
  w.dispose();
});
