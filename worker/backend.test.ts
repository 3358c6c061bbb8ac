/**
 * The worker's two backends, with a stand-in for webgpu (lib/ml/testing.ts: its own tensor storage,
 * the cpu kernels, no synchronous read, as webgpu in Node) as the forward backend and wasm for
 * training: each handler's selection, a backbone made and run on the forward backend while views
 * are drawn and heads trained on wasm, and what a run records.
 */
import { createHash } from "node:crypto";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { afterAll, expect, it, vi } from "vitest";
import { DEFAULT_POLICY } from "@/lib/ml/augment";
import type { LoadedBackbone } from "@/lib/ml/backbones/types";
import { extractViewFeatures, type FeatureImage } from "@/lib/ml/features";
import { relativeError, seededValues } from "@/lib/ml/testing";
import * as tf from "@/lib/ml/tf";
import { loadForForwardPasses, runBackendFields, selectForwardBackend, selectTrainingBackend, workerBackends } from "./backend";

vi.mock("@/lib/ml/backend", async (importOriginal) => {
  const actual = await importOriginal<typeof import("@/lib/ml/backend")>();
  const { registerNoSyncReadBackend } = await import("@/lib/ml/testing");
  return {
    ...actual,
    chooseBackends: async () => {
      await registerNoSyncReadBackend("webgpu");
      const train = await actual.initBackend({ force: "wasm", log: () => {} });
      return { train, forward: { name: "webgpu" as const, reason: "a stand-in GPU" } };
    },
  };
});

const tmp = fs.mkdtempSync(path.join(os.tmpdir(), "fixlabel-worker-backend-"));
afterAll(() => fs.rmSync(tmp, { recursive: true, force: true }));

const SIZE = 8;

function tinyBackbone(): LoadedBackbone {
  const input = tf.input({ shape: [SIZE, SIZE, 3] });
  const conv = tf.layers.conv2d({ filters: 4, kernelSize: 3, padding: "same", activation: "relu", kernelInitializer: tf.initializers.glorotUniform({ seed: 3 }) }).apply(input) as tf.SymbolicTensor;
  const pooled = tf.layers.globalAveragePooling2d({}).apply(conv) as tf.SymbolicTensor;
  const preprocessing = { inputSize: SIZE, channels: 3 as const, scale: 1 / 127.5, offset: -1 };
  return { id: "tiny", ref: { kind: "custom", source: "test", cutLayer: "conv", preprocessing }, preprocessing, featureDim: 4, extractor: tf.model({ inputs: input, outputs: pooled }) };
}

function images(n: number): FeatureImage[] {
  return Array.from({ length: n }, (_, i) => {
    const pixels = Uint8Array.from(seededValues(SIZE * SIZE * 3, 50 + i), (v) => Math.round(127.5 + 127 * v));
    return { sha256: createHash("sha256").update(pixels).digest("hex"), load: async () => pixels };
  });
}

it("each handler's selection: training on wasm, forward passes on the forward backend", async () => {
  expect((await selectForwardBackend()).name).toBe("webgpu");
  expect(tf.getBackend()).toBe("webgpu");
  expect((await selectTrainingBackend()).name).toBe("wasm");
  expect(tf.getBackend()).toBe("wasm");
});

it("a backbone loaded for forward passes has its weights on the forward backend; its features equal wasm's, with views drawn and the backend left on wasm", async () => {
  await selectTrainingBackend();
  const backbone = await loadForForwardPasses(async () => tinyBackbone());
  expect(backbone.forwardBackend).toBe("webgpu");
  expect(tf.getBackend()).toBe("wasm");
  // Made there: reading a weight synchronously fails as it would on webgpu in Node.
  expect(() => backbone.extractor.getWeights()[0].dataSync()).toThrow(/no synchronous read/);

  const imgs = images(3);
  // Equalize reads back synchronously: drawn on the forward backend, the views would fail.
  const views = { policy: { ...DEFAULT_POLICY, strongOps: ["Equalize" as const, "Rotate" as const] }, k: 2, seed: 1 };
  const onGpu = await extractViewFeatures({ backbone, images: imgs, dir: path.join(tmp, "gpu"), views });
  expect(tf.getBackend()).toBe("wasm");
  const onWasm = await extractViewFeatures({ backbone: tinyBackbone(), images: imgs, dir: path.join(tmp, "wasm"), views });
  expect(relativeError(onGpu.weak, onWasm.weak)).toBeLessThan(2 ** -11);
  expect(relativeError(onGpu.strong, onWasm.strong)).toBeLessThan(2 ** -11);
  backbone.extractor.dispose();
});

it("a frozen-backbone run records both backends when they differ; other runs the training one", async () => {
  const pair = await workerBackends();
  expect(runBackendFields(pair, true)).toEqual({
    backend: "webgpu + wasm",
    backendReason: `backbone features on webgpu (a stand-in GPU); the head trains on wasm (${pair.train.reason})`,
  });
  expect(runBackendFields(pair, false)).toEqual({ backend: "wasm", backendReason: pair.train.reason });
  expect(runBackendFields({ train: pair.train, forward: pair.train }, true)).toEqual({ backend: "wasm", backendReason: pair.train.reason });
});
