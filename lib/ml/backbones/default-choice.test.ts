import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { afterAll, expect, it } from "vitest";
import { DEFAULT_BACKBONE, defaultBackboneMode, defaultStartFrom } from "./default-choice";

const dataDir = fs.mkdtempSync(path.join(os.tmpdir(), "fixlabel-default-start-"));
afterAll(() => fs.rmSync(dataDir, { recursive: true, force: true }));

it("starts from MobileNetV2 only once its model.json is on disk, with the reason either way", () => {
  const before = defaultStartFrom(dataDir, "the tiny ResNet");
  expect(before.backbone).toBeNull();
  expect(before.reason).toContain("so this run trains the tiny ResNet from scratch instead");
  const folder = path.join(dataDir, "backbones", "mobilenet-v2-1.00");
  // An empty folder (a download that never finished) is not the weights.
  fs.mkdirSync(folder, { recursive: true });
  expect(defaultStartFrom(dataDir).backbone).toBeNull();
  fs.writeFileSync(path.join(folder, "model.json"), "{}");
  expect(defaultStartFrom(dataDir)).toEqual({ backbone: DEFAULT_BACKBONE, reason: `ImageNet MobileNetV2 (alpha 1.00) is the default start, and its weights are downloaded (${folder})` });
});

it("a backbone is frozen on CPU backends and fine-tuned on tfjs-node-gpu", () => {
  expect(["wasm", "cpu", "tfjs-node", "webgpu"].map(defaultBackboneMode)).toEqual(["frozen", "frozen", "frozen", "frozen"]);
  expect(defaultBackboneMode("tfjs-node-gpu")).toBe("finetune");
});
