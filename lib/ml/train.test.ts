/**
 * The loop on tiny generated data (8x8 gray, class 0 dark, class 1 bright, with noise):
 * memory stays flat, a stopped and resumed run equals a straight one, and the loss falls. On wasm:
 * ~20x faster than the cpu backend here, and as deterministic (same weights to the bit).
 */
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { afterAll, beforeAll, expect, it } from "vitest";
import { initBackend } from "./backend";
import { checkpointFile, loadCheckpoint } from "./checkpoint";
import { splitHeldOut, type LabeledExample } from "./data";
import { seededValues } from "./testing";
import * as tf from "./tf";
import { train, type TrainData, type TrainProgress } from "./train";
import { DEFAULT_TRAIN_CONFIG, type TrainCheckpointMeta, type TrainConfig } from "./config";

const SIZE = 8;
const tmp = fs.mkdtempSync(path.join(os.tmpdir(), "fixlabel-train-"));
afterAll(() => fs.rmSync(tmp, { recursive: true, force: true }));

beforeAll(async () => {
  await initBackend({ force: "wasm", log: () => {} });
});

/** n images; even frames dark (~64), odd bright (~192); `labeledPerClass` of each class labeled. */
function brightVersusDark(n: number, labeledPerClass: number): TrainData {
  const noise = seededValues(n * SIZE * SIZE, 11);
  const pixels = new Uint8Array(n * SIZE * SIZE);
  for (let i = 0; i < pixels.length; i++) {
    const bright = Math.floor(i / (SIZE * SIZE)) % 2;
    pixels[i] = (bright ? 192 : 64) + Math.round(50 * noise[i]);
  }
  const labeled: LabeledExample[] = [];
  for (let frame = 0; frame < n; frame++) if (frame < 2 * labeledPerClass || frame % 5 === 0) labeled.push({ imageId: frame + 1, frame, classIndex: frame % 2 });
  const { train: trainSet, heldOut } = splitHeldOut(labeled);
  return { cache: { size: SIZE, channels: 1, pixels }, labeled: trainSet, heldOut, unlabeled: [...Array(n).keys()] };
}

const config = (overrides: Partial<TrainConfig>): TrainConfig => ({
  ...DEFAULT_TRAIN_CONFIG,
  model: { kind: "resnet", width: 4, blocks: 1 },
  inputSize: SIZE,
  channels: 1,
  numClasses: 2,
  batchSize: 8,
  mu: 2,
  lr: 0.03,
  emaDecay: 0.9,
  bnMomentum: 0.9,
  threshold: 0.9,
  logEvery: 1,
  evalEvery: 10,
  checkpointEvery: 100,
  ...overrides,
});

function runDir(name: string): string {
  return path.join(tmp, name);
}

it.each([false, true])("keeps the number of tensors flat from step 3 to step 20 (pseudoLabelFirst %s)", async (pseudoLabelFirst) => {
  const counts = new Map<number, number>();
  const masks: number[] = [];
  const result = await train({
    config: config({ steps: 20, pseudoLabelFirst }),
    data: brightVersusDark(40, 4),
    runDir: runDir(`flat-${pseudoLabelFirst}`),
    onProgress: (p) => {
      counts.set(p.step, tf.memory().numTensors);
      masks.push(p.maskRate!);
    },
  });
  expect(result.status).toBe("finished");
  expect(counts.get(20)).toBe(counts.get(3));
  // Both branches of a pseudo-label-first step ran: steps with nothing above the threshold, and steps with some.
  expect(masks.some((m) => m === 0) && masks.some((m) => m > 0)).toBe(true);
});

it("pseudo-label first learns bright vs dark too", async () => {
  const result = await train({ config: config({ steps: 40, evalEvery: 20, pseudoLabelFirst: true }), data: brightVersusDark(60, 3), runDir: runDir("learns-first") });
  expect(result.heldOutAcc).toBeGreaterThan(0.9);
});

it("stopped after 5 steps and resumed with fresh objects, equals 10 straight steps", async () => {
  const data = brightVersusDark(40, 4);
  const cfg = config({ steps: 10 });
  // Both runs start from the same initial weights: a run stopped before its first step.
  const init = await train({ config: cfg, data, runDir: runDir("init"), shouldStop: () => true });
  expect(init).toMatchObject({ status: "stopped", step: 0 });
  for (const name of ["straight", "resumed"]) {
    fs.mkdirSync(runDir(name));
    fs.copyFileSync(checkpointFile(runDir("init")), checkpointFile(runDir(name)));
  }

  await train({ config: cfg, data, runDir: runDir("straight") });
  let checks = 0;
  const first = await train({ config: cfg, data, runDir: runDir("resumed"), shouldStop: () => ++checks > 5 });
  expect(first).toMatchObject({ status: "stopped", step: 5 });
  expect((await loadCheckpoint<TrainCheckpointMeta>(runDir("resumed")))!.meta.step).toBe(5);
  const second = await train({ config: cfg, data, runDir: runDir("resumed") });
  expect(second).toMatchObject({ status: "finished", step: 10 });

  const a = (await loadCheckpoint<TrainCheckpointMeta>(runDir("straight")))!;
  const b = (await loadCheckpoint<TrainCheckpointMeta>(runDir("resumed")))!;
  expect(b.meta.rng).toEqual(a.meta.rng);
  for (const group of ["model", "ema", "optimizer"]) {
    a.arrays[group].forEach((w, i) => expect(Array.from(b.arrays[group][i])).toEqual(Array.from(w)));
  }
});

it("FixMatch learns bright vs dark: the loss falls and held-out accuracy passes 0.9", async () => {
  const progress: TrainProgress[] = [];
  const started = performance.now();
  const result = await train({
    config: config({ steps: 40, evalEvery: 20 }),
    data: brightVersusDark(60, 3),
    runDir: runDir("learns"),
    onProgress: (p) => progress.push(p),
  });
  const seconds = (performance.now() - started) / 1000;
  const first = progress.slice(0, 5).reduce((s, p) => s + p.lossSup, 0) / 5;
  const last = progress.slice(-5).reduce((s, p) => s + p.lossSup, 0) / 5;
  console.info(`40 steps in ${seconds.toFixed(1)} s; supervised loss ${first.toFixed(3)} -> ${last.toFixed(3)}; held-out accuracy ${result.heldOutAcc}; mask rate at the end ${progress.at(-1)!.maskRate?.toFixed(2)}`);
  expect(last).toBeLessThan(0.5 * first);
  expect(result.heldOutAcc).toBeGreaterThan(0.9);
});

it("supervised mode trains on the labeled images alone", async () => {
  const progress: TrainProgress[] = [];
  const result = await train({
    config: config({ mode: "supervised", steps: 30, evalEvery: 30 }),
    data: brightVersusDark(60, 3),
    runDir: runDir("supervised"),
    onProgress: (p) => progress.push(p),
  });
  expect(progress.every((p) => p.lossUnsup === null && p.maskRate === null)).toBe(true);
  expect(result.heldOutAcc).toBeGreaterThan(0.9);
});

it("runs with distribution alignment and FlexMatch thresholds, and checkpoints their state", async () => {
  const data = brightVersusDark(40, 4);
  const result = await train({ config: config({ steps: 6, distributionAlignment: true, flexThresholds: true }), data, runDir: runDir("extras") });
  expect(result.status).toBe("finished");
  const saved = (await loadCheckpoint<TrainCheckpointMeta>(runDir("extras")))!.meta;
  expect(saved.alignment!.runningMean).toHaveLength(2);
  expect(saved.flex!.lastConfidentClass).toHaveLength(40);
});

it("distribution alignment's running mean keeps the configured share of its past each step", async () => {
  const data = brightVersusDark(40, 4);
  const meanAfter = async (name: string, momentum: number | undefined) => {
    await train({ config: config({ steps: 4, distributionAlignment: true, distributionAlignmentMomentum: momentum }), data, runDir: runDir(name) });
    return (await loadCheckpoint<TrainCheckpointMeta>(runDir(name)))!.meta.alignment!.runningMean;
  };
  // Momentum 1 never moves off the uniform start; 0 is the last batch's mean prediction alone;
  // a config saved before the field existed moves by at most 0.001 per step.
  expect(await meanAfter("da-frozen", 1)).toEqual([0.5, 0.5]);
  const lastBatch = await meanAfter("da-last-batch", 0);
  expect(lastBatch[0] + lastBatch[1]).toBeCloseTo(1, 5);
  expect(Math.abs(lastBatch[0] - 0.5)).toBeGreaterThan(1e-4);
  const legacy = await meanAfter("da-legacy", undefined);
  expect(Math.abs(legacy[0] - 0.5)).toBeGreaterThan(0);
  expect(Math.abs(legacy[0] - 0.5)).toBeLessThanOrEqual(4 * 0.001 * 0.5 + 1e-9);
});

it("a time budget ends the run and drives the cosine schedule; the time spent is checkpointed", async () => {
  // A clock the test drives: every reading is 125 ms after the one before, and the loop reads it once
  // at a step's start and once at its end, so each step costs exactly 0.125 s and a 1.5 s budget is
  // exactly 12 steps, however fast or loaded the machine is.
  let clockMs = 0;
  const now = () => (clockMs += 125);
  const progress: TrainProgress[] = [];
  const result = await train({
    config: config({ steps: 1_000_000, timeBudgetS: 1.5, evalEvery: 1_000_000 }),
    data: brightVersusDark(40, 4),
    runDir: runDir("budget"),
    onProgress: (p) => progress.push(p),
    now,
  });
  expect(result).toMatchObject({ status: "finished", step: 12 });
  expect(progress.map((p) => p.step)).toEqual([1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12]);
  // The reported fraction follows the clock, not the million steps: step k of 12 is k/12 of the way.
  progress.forEach((p, i) => expect(p.fraction).toBeCloseTo((i + 1) / 12, 12));
  expect(progress.at(-1)!.fraction).toBe(1);
  // The remaining time counts down by 0.125 s a step, to 0 at the end.
  progress.forEach((p, i) => expect(p.etaS).toBeCloseTo(1.5 - 0.125 * (i + 1), 9));
  // lr follows lr0 * cos(7 pi / 16 * fraction before the step): from lr0 down towards lr0 * cos(7 pi / 16 * 11/12).
  progress.forEach((p, i) => expect(p.lr).toBeCloseTo(0.03 * Math.cos(((7 * Math.PI) / 16) * (i / 12)), 12));
  const saved = (await loadCheckpoint<TrainCheckpointMeta>(runDir("budget")))!.meta;
  expect(saved.elapsedS).toBe(1.5);
});
