/**
 * "How it learns" samples: the recorded views are the step's own tensors (pixels of the PNGs equal
 * round(255 * tensor)), the masked-in flag is confidence >= threshold, the recorded loss is the
 * per-image CE the unlabeled loss summed, and the loop records them every N steps and at the end.
 */
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import sharp from "sharp";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { DEFAULT_POLICY, type AppliedOp } from "./augment";
import { initBackend } from "./backend";
import { splitHeldOut, type LabeledExample } from "./data";
import { fixmatchLoss } from "./fixmatch";
import { PerClassWindow } from "./per-class";
import { pickSampleIndices, renderPng, StepSample, writeSampleImages, type SampleEvent } from "./samples";
import { seededValues } from "./testing";
import * as tf from "./tf";
import { train, type TrainData } from "./train";
import { DEFAULT_TRAIN_CONFIG, type TrainConfig } from "./config";

const tmp = fs.mkdtempSync(path.join(os.tmpdir(), "fixlabel-samples-"));
afterAll(() => fs.rmSync(tmp, { recursive: true, force: true }));
beforeAll(async () => {
  await initBackend({ force: "wasm", log: () => {} });
});

/** The PNG's own channel count and its pixels (sharp decodes gray to sRGB unless told otherwise). */
async function decodePng(file: string | Buffer): Promise<{ data: Buffer; channels: number }> {
  const { channels } = await sharp(file).metadata();
  const image = sharp(file);
  const data = await (channels === 1 ? image.toColourspace("b-w") : image).raw().toBuffer();
  return { data, channels: channels! };
}

const noOps = (n: number): AppliedOp[][] => Array.from({ length: n }, () => []);

describe("pickSampleIndices", () => {
  it("alternates masked-in and masked-out in batch order, then fills from what remains", () => {
    expect(pickSampleIndices([0, 0, 1, 0, 1, 0, 0, 0], 4)).toEqual([0, 1, 2, 4]);
    expect(pickSampleIndices([1, 1, 1, 1, 1, 1, 1, 0], 3)).toEqual([0, 1, 7]);
    expect(pickSampleIndices([0, 0, 0], 6)).toEqual([0, 1, 2]);
    expect(pickSampleIndices([1, 0, 1, 0, 1, 0, 1, 0, 1, 0], 6).length).toBe(6);
  });
});

describe("StepSample", () => {
  it("records the step's own tensors: pixels, mask = confidence >= tau, loss = the CE the loss summed", async () => {
    const n = 8;
    const classes = 3;
    const size = 4;
    const weakImages = tf.tensor4d(seededValues(n * size * size * 3, 1).map((v) => (v + 1) / 2), [n, size, size, 3]);
    const strongImages = tf.tensor4d(seededValues(n * size * size * 3, 2).map((v) => (v + 1) / 2), [n, size, size, 3]);
    // Weak logits: some images confidently one class, some unsure.
    const weakLogits = tf.tensor2d(Array.from({ length: n * classes }, (_, k) => (Math.floor(k / classes) % 2 === 0 && k % classes === (k % 7) % 3 ? 6 : 0.3 * (k % 5))), [n, classes]);
    const strongLogits = tf.tensor2d(seededValues(n * classes, 3).map((v) => 3 * v), [n, classes]);
    const labeledLogits = tf.tensor2d([[1, 0, 0]]);
    const labels = tf.tensor1d([0], "int32");
    const sample = new StepSample();
    const strongApplied: AppliedOp[][] = noOps(n).map((_, i) => [{ op: "Solarize", magnitude: i / 10 }]);
    sample.keepViews({ images: weakImages, applied: noOps(n) }, { images: strongImages, applied: strongApplied });
    const out = tf.tidy(() => {
      const o = fixmatchLoss({ logitsLabeled: labeledLogits, labels, logitsWeak: weakLogits, logitsStrong: strongLogits, threshold: 0.9, lambdaU: 1 });
      sample.keepOutputs(o, strongLogits);
      return tf.keep(o.unsupervised);
    });
    const frames = [10, 11, 12, 13, 14, 15, 16, 17];
    const event = sample.capture(7, frames, 0.9, n);

    expect(event.images.length).toBe(n);
    expect(event.images.some((s) => s.maskedIn)).toBe(true);
    expect(event.images.some((s) => !s.maskedIn)).toBe(true);
    const weakAll = weakImages.dataSync();
    const strongAll = strongImages.dataSync();
    const strongLogitsAll = strongLogits.arraySync();
    let maskedCeSum = 0;
    for (const s of event.images) {
      const i = s.batchIndex;
      expect(s.frame).toBe(frames[i]);
      expect(s.strongOps).toEqual(strongApplied[i]);
      expect(s.maskedIn).toBe(s.weakConfidence >= s.threshold);
      expect(Array.from(s.weak)).toEqual(Array.from(weakAll.subarray(i * 48, (i + 1) * 48)));
      expect(Array.from(s.strong)).toEqual(Array.from(strongAll.subarray(i * 48, (i + 1) * 48)));
      // CE of the strong logits against the pseudo-label, computed here in plain JS.
      const logits = strongLogitsAll[i];
      const logSum = Math.log(logits.reduce((a, v) => a + Math.exp(v), 0));
      expect(s.loss).toBeCloseTo(logSum - logits[s.weakClassIndex], 5);
      maskedCeSum += s.maskedIn ? s.loss : 0;
    }
    // The loss the step minimised is exactly the mean of the recorded masked CEs (all n recorded here).
    expect(maskedCeSum / n).toBeCloseTo(out.dataSync()[0], 5);

    // The PNGs hold the same pixels, rounded to bytes.
    const files = await writeSampleImages(path.join(tmp, "run"), event);
    for (const [k, s] of event.images.entries()) {
      for (const view of ["weak", "strong"] as const) {
        const { data, channels } = await decodePng(path.join(tmp, "run", "samples", "7", files[k][view]));
        expect(channels).toBe(3);
        expect(Array.from(data)).toEqual(Array.from(s[view], (v) => Math.round(v * 255)));
      }
    }
    sample.dispose();
    tf.dispose([weakLogits, strongLogits, labeledLogits, labels, out]);
  });

  it("renders gray views as 1-channel PNGs with the exact bytes", async () => {
    const pixels = Float32Array.from({ length: 16 }, (_, i) => i / 15);
    const { data, channels } = await decodePng(await renderPng(pixels, 4, 1));
    expect(channels).toBe(1);
    expect(Array.from(data)).toEqual(Array.from(pixels, (v) => Math.round(v * 255)));
  });
});

describe("PerClassWindow", () => {
  it("mask rate by pseudo-label class and pseudo-label accuracy by human label", () => {
    const w = new PerClassWindow(3);
    w.add([0, 0, 1, 1, 2], [1, 0, 1, 1, 0], [0, undefined, 0, 1, 2]);
    expect(w.take()).toEqual({ maskRate: [0.5, 1, 0], pseudoAcc: [0.5, 1, null], seen: [2, 2, 1], passed: [1, 2, 0] });
    expect(w.take().maskRate).toEqual([null, null, null]);
  });
});

/** n 8x8 gray images; even frames dark, odd bright. */
function brightVersusDark(n: number): TrainData {
  const size = 8;
  const noise = seededValues(n * size * size, 11);
  const pixels = new Uint8Array(n * size * size);
  for (let i = 0; i < pixels.length; i++) pixels[i] = (Math.floor(i / (size * size)) % 2 ? 192 : 64) + Math.round(50 * noise[i]);
  const labeled: LabeledExample[] = [];
  for (let frame = 0; frame < n; frame++) if (frame < 8 || frame % 5 === 0) labeled.push({ imageId: frame + 1, frame, classIndex: frame % 2 });
  const { train: trainSet, heldOut } = splitHeldOut(labeled);
  return { cache: { size, channels: 1, pixels }, labeled: trainSet, heldOut, unlabeled: [...Array(n).keys()] };
}

const config = (overrides: Partial<TrainConfig>): TrainConfig => ({
  ...DEFAULT_TRAIN_CONFIG,
  model: { kind: "resnet", width: 4, blocks: 1 },
  inputSize: 8,
  channels: 1,
  numClasses: 2,
  batchSize: 8,
  mu: 2,
  emaDecay: 0.9,
  bnMomentum: 0.9,
  threshold: 0.6,
  logEvery: 2,
  evalEvery: 10,
  checkpointEvery: 100,
  ...overrides,
});

describe("the loop's onSamples", () => {
  it("hands over the step's views every N steps and at the last step, with per-class progress", async () => {
    const data = brightVersusDark(40);
    const events: SampleEvent[] = [];
    const perClass: unknown[] = [];
    const tensorsAt: number[] = [];
    // No augmentation at all: the weak view must then be the cached image itself.
    const plain = { ...DEFAULT_POLICY, flip: false, translate: 0, opsPerImage: 0, cutout: 0 };
    await train({
      config: config({ steps: 11, augment: plain }),
      data,
      runDir: path.join(tmp, "loop"),
      samplesEvery: 5,
      onSamples: (e) => {
        events.push(e);
        tensorsAt.push(tf.memory().numTensors);
      },
      onProgress: (p) => perClass.push(p.perClass),
    });
    expect(events.map((e) => e.step)).toEqual([5, 10, 11]);
    expect(tensorsAt[1]).toBe(tensorsAt[0]);
    for (const e of events) {
      expect(e.images.length).toBe(6);
      for (const s of e.images) {
        const cached = data.cache.pixels.subarray(s.frame * 64, (s.frame + 1) * 64);
        expect(Array.from(s.weak, (v) => Math.round(v * 255))).toEqual(Array.from(cached));
        expect(s.weakOps).toEqual([]);
        expect(s.strongOps).toEqual([]);
        expect(s.maskedIn).toBe(s.weakConfidence >= 0.6);
      }
    }
    expect(perClass.length).toBeGreaterThan(0);
    expect(perClass[0]).toMatchObject({ maskRate: expect.any(Array), seen: expect.any(Array) });
  });
});
