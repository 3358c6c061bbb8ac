/**
 * What recording "How it learns" samples costs a training run, on the quick-cpu preset's shape
 * (32x32 RGB, B = 16, mu = 3, ResNet width 16) with the wasm backend:
 *
 *   npx tsx bench/samples.ts [--steps 30] [--every 5]
 *
 * Runs the loop twice on the same random images and seed: without onSamples, then recording a
 * sample event every --every steps exactly as the worker does (read back 6 images from the step's
 * tensors, write 12 PNGs with sharp, insert 6 rows into a temporary SQLite database). Prints the
 * mean step time of each run, the mean time of one sample event, and the event's share of the
 * steps between two events (the worker records every SAMPLES_EVERY = 25 steps).
 */
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { initBackend } from "../lib/ml/backend";
import { PRESETS } from "../lib/ml/presets";
import { seededValues } from "../lib/ml/testing";
import { train, type TrainData } from "../lib/ml/train";
import { DEFAULT_TRAIN_CONFIG, type TrainConfig } from "../lib/ml/config";
import { makeTestDb } from "../lib/testing/db";
import { createRun } from "../lib/db/queries/training";
import { projects } from "../lib/db/schema";
import { SAMPLES_EVERY, sampleRecorder } from "../worker/handlers/train-samples";

function arg(name: string, fallback: number): number {
  const i = process.argv.indexOf(`--${name}`);
  return i >= 0 ? Number(process.argv[i + 1]) : fallback;
}

async function main() {
  const steps = arg("steps", 30);
  const every = arg("every", 5);
  const backend = await initBackend({ force: "wasm", log: () => {} });
  const n = 256;
  const size = 32;
  const pixels = Uint8Array.from(seededValues(n * size * size * 3, 3), (v) => Math.round(127.5 * (v + 1)));
  const labeled = Array.from({ length: 40 }, (_, frame) => ({ imageId: frame + 1, frame, classIndex: frame % 4 }));
  const data: TrainData = { cache: { size, channels: 3, pixels }, labeled, heldOut: [], unlabeled: [...Array(n).keys()] };
  const config: TrainConfig = { ...DEFAULT_TRAIN_CONFIG, ...PRESETS["quick-cpu"], channels: 3, numClasses: 4, steps, threshold: 0.3, logEvery: 1000, evalEvery: 1000, checkpointEvery: 1000 };
  const tmp = fs.mkdtempSync(path.join(os.tmpdir(), "fixlabel-bench-samples-"));
  const { db, cleanup } = makeTestDb();
  try {
    const projectId = db.insert(projects).values({ name: "bench" }).returning().get().id;
    const run = createRun(db, { projectId, mode: "fixmatch", totalSteps: steps, config: {} });

    const timed = async (dir: string, withSamples: boolean) => {
      const recorder = sampleRecorder(db, run.id, dir, (frame) => frame + 1, console.log);
      const start = performance.now();
      await train({ config, data, runDir: dir, ...(withSamples ? { onSamples: recorder.record, samplesEvery: every } : {}) });
      return { msPerStep: (performance.now() - start) / steps, events: recorder.stats.events, msPerEvent: recorder.stats.ms / Math.max(1, recorder.stats.events) };
    };
    const plain = await timed(path.join(tmp, "plain"), false);
    const recorded = await timed(path.join(tmp, "recorded"), true);
    const share = (n: number) => `${((100 * recorded.msPerEvent) / (n * plain.msPerStep)).toFixed(2)}%`;
    console.log(`backend ${backend.name}, ${steps} steps, B=${config.batchSize}, mu=${config.mu}, ${size}x${size}x3`);
    console.log(`step without samples: ${plain.msPerStep.toFixed(1)} ms; with an event every ${every} steps: ${recorded.msPerStep.toFixed(1)} ms`);
    console.log(`one sample event (capture + 12 PNGs + 6 rows): ${recorded.msPerEvent.toFixed(2)} ms over ${recorded.events} events`);
    console.log(`= ${share(1)} of one step; ${share(every)} of the steps between events at --every ${every}; ${share(SAMPLES_EVERY)} at the worker's ${SAMPLES_EVERY}`);
  } finally {
    cleanup();
    fs.rmSync(tmp, { recursive: true, force: true });
  }
}

void main();
