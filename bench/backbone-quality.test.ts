/**
 * bench/backbone-quality.ts runs end to end on a tiny custom backbone (a conv layer saved as a
 * tfjs layers model folder) and a tiny ImageFolder (reddish vs bluish 16x16 PNGs) the test makes.
 */
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import sharp from "sharp";
import { afterAll, beforeAll, expect, it } from "vitest";
import { initBackend } from "../lib/ml/backend";
import { saveLayersModel } from "../lib/ml/model-files";
import { seededValues } from "../lib/ml/testing";
import * as tf from "../lib/ml/tf";
import { runQuality } from "./backbone-quality";

const tmp = fs.mkdtempSync(path.join(os.tmpdir(), "fixlabel-quality-test-"));
afterAll(() => fs.rmSync(tmp, { recursive: true, force: true }));
beforeAll(async () => {
  await initBackend({ force: "wasm", log: () => {} });
});

it("prints and returns pool accuracy and precision above tau per head for a backbone folder and an ImageFolder", async () => {
  const input = tf.input({ shape: [8, 8, 3] });
  const conv = tf.layers.conv2d({ filters: 4, kernelSize: 3, padding: "same", activation: "relu", name: "features", kernelInitializer: tf.initializers.glorotUniform({ seed: 4 }), biasInitializer: "ones" }).apply(input) as tf.SymbolicTensor;
  const top = tf.layers.dense({ units: 2 }).apply(tf.layers.globalAveragePooling2d({}).apply(conv)) as tf.SymbolicTensor;
  const backboneDir = path.join(tmp, "backbone");
  await saveLayersModel(tf.model({ inputs: input, outputs: top }), backboneDir);

  const data = path.join(tmp, "photos");
  for (const [c, name] of ["bluish", "reddish"].entries()) {
    fs.mkdirSync(path.join(data, name), { recursive: true });
    for (let i = 0; i < 8; i++) {
      const noise = seededValues(16 * 16 * 3, 10 * c + i + 1);
      const pixels = Buffer.from(Array.from(noise, (v, p) => Math.round((p % 3 === (c === 0 ? 2 : 0) ? 180 : 60) + 40 * v)));
      await sharp(pixels, { raw: { width: 16, height: 16, channels: 3 } }).png().toFile(path.join(data, name, `${i}.png`));
    }
  }
  const lines: string[] = [];
  const report = await runQuality({ backbone: backboneDir, data, cut: "features", size: 8, scale: 1 / 255, offset: 0, seeds: 2, labels: 2, views: 2, minutes: 0.03, threshold: 0.9, log: (l) => lines.push(l) });
  expect(report.classes).toEqual(["bluish", "reddish"]);
  expect(report.images).toBe(16);
  expect(report.perSeed).toHaveLength(2);
  // 2 labels per class: 12 unlabeled pool images scored, the colours are easy for any head.
  expect(report.median["linear-probe"].poolAcc).toBeGreaterThanOrEqual(0.9);
  expect(report.median["class-mean"].poolAcc).toBeGreaterThanOrEqual(0.9);
  for (const r of report.perSeed) for (const s of Object.values(r)) expect(s.passing).toBeLessThanOrEqual(12);
  expect(lines.some((l) => /^fixmatch\s+median pool accuracy \d+\.\d%/.test(l))).toBe(true);
  expect(lines[0]).toMatch(/cut at features: 4 features; data 16 images in 2 classes/);
});

it("says what is wrong with a folder that is not an ImageFolder", async () => {
  fs.mkdirSync(path.join(tmp, "flat"), { recursive: true });
  await expect(runQuality({ backbone: tmp, data: path.join(tmp, "flat"), cut: "x", size: 8, scale: 1, offset: 0, seeds: 1, labels: 1, views: 1, minutes: 0.01, threshold: 0.9, log: () => {} })).rejects.toThrow(/expected an ImageFolder/);
});
