/**
 * The model download and single-image prediction against a real database: a tiny succeeded run
 * (8 px gray, 3 classes, a few steps on wasm), its model files written as the worker writes them.
 */
import { execFileSync } from "node:child_process";
import fs from "node:fs";
import path from "node:path";
import sharp from "sharp";
import { afterAll, beforeAll, expect, it } from "vitest";
import yauzl from "yauzl";
import type { Db } from "@/lib/db/client";
import { createClass, updateClass } from "@/lib/db/queries/classes";
import { createRun, updateRun } from "@/lib/db/queries/training";
import { makeProject } from "@/lib/dataset/test-fixtures";
import { AppError } from "@/lib/errors";
import { listJobs } from "@/lib/jobs";
import { initBackend } from "@/lib/ml/backend";
import { WEB_BACKEND_REASON } from "@/lib/ml/image-predictor";
import { modelFilesDir, runDir } from "@/lib/ml/export";
import { exportRunModel } from "@/lib/ml/model-files";
import { forgetLoadedModels } from "@/lib/ml/predict-image";
import { seededValues } from "@/lib/ml/testing";
import { train } from "@/lib/ml/train";
import { DEFAULT_TRAIN_CONFIG, type TrainConfig } from "@/lib/ml/config";
import { makeTestDb } from "@/lib/testing/db";
import { exportModel, modelExportStatus } from "./model-export";
import { predictUploadedImage, readImageBody } from "./predict";

let db: Db;
let cleanup: () => void;
let projectId: number;
let runId: number;
let classIds: number[];

const CONFIG: TrainConfig = {
  ...DEFAULT_TRAIN_CONFIG,
  model: { kind: "resnet", width: 4, blocks: 1 },
  inputSize: 8,
  channels: 1,
  numClasses: 3,
  steps: 4,
  batchSize: 6,
  mu: 1,
  emaDecay: 0.5,
  logEvery: 4,
  evalEvery: 100,
  checkpointEvery: 100,
};

beforeAll(async () => {
  ({ db, cleanup } = makeTestDb());
  await initBackend({ force: "wasm", log: () => {} });
  projectId = makeProject(db, "shades");
  classIds = ["dark", "mid", "bright"].map((name) => createClass(db, projectId, { name }).id);
  const run = createRun(db, { projectId, mode: "fixmatch", totalSteps: CONFIG.steps, config: { request: { mode: "fixmatch", preset: "quick-cpu" }, train: CONFIG, classIds } });
  runId = run.id;
  // Synthetic frames straight into the loop: the model need not be good, only real.
  const frames = 12;
  const noise = seededValues(frames * 64, 3);
  const pixels = Uint8Array.from(noise, (v, i) => 40 + 80 * (Math.floor(i / 64) % 3) + Math.round(30 * v));
  const labeled = Array.from({ length: frames }, (_, frame) => ({ imageId: frame, frame, classIndex: frame % 3 }));
  await train({ config: CONFIG, data: { cache: { size: 8, channels: 1, pixels }, labeled, heldOut: [], unlabeled: labeled.map((e) => e.frame) }, runDir: runDir(runId) });
  updateRun(db, runId, { status: "succeeded", step: CONFIG.steps, finishedAt: Date.now(), metrics: { step: 4, heldOutAcc: 0.75, heldOutCorrect: 3, heldOutImages: 4, trainLabeled: 8, heldOutBasis: "human" } });
});
afterAll(async () => {
  await forgetLoadedModels();
  cleanup();
});

const gray = (value: number) => sharp({ create: { width: 12, height: 9, channels: 3, background: { r: value, g: value, b: value } } }).png().toBuffer();

function zipEntries(zip: Buffer): Promise<Map<string, Buffer>> {
  return new Promise((resolve, reject) => {
    yauzl.fromBuffer(zip, { lazyEntries: true }, (err, file) => {
      if (err) return reject(err);
      const out = new Map<string, Buffer>();
      file.on("entry", (entry: yauzl.Entry) =>
        file.openReadStream(entry, (e, stream) => {
          if (e) return reject(e);
          const chunks: Buffer[] = [];
          stream.on("data", (c: Buffer) => chunks.push(c));
          stream.on("end", () => {
            out.set(entry.fileName, Buffer.concat(chunks));
            file.readEntry();
          });
        }),
      );
      file.on("end", () => resolve(out));
      file.on("error", reject);
      file.readEntry();
    });
  });
}

it("a run without model files answers 202 with one export job (not one per request), then streams the zip", async () => {
  const first = await exportModel(db, projectId, { dryRun: false });
  expect(first.status).toBe(202);
  const body = (await first.json()) as { ready: boolean; runId: number; job: { id: number; type: string } };
  expect(body).toMatchObject({ ready: false, runId, job: { type: "export.model" } });
  const again = (await (await exportModel(db, projectId, { dryRun: false })).json()) as { job: { id: number } };
  expect(again.job.id).toBe(body.job.id);
  expect(listJobs(db, { projectId }).filter((j) => j.type === "export.model")).toHaveLength(1);

  // What the worker's export.model job does.
  await exportRunModel(runDir(runId));
  expect(await modelExportStatus(db, projectId)).toMatchObject({ runId, modelVersion: `p${projectId}-r${runId}`, ready: true, job: null });
  updateClass(db, projectId, classIds[1], { name: "middle" });

  const res = await exportModel(db, projectId, { runId, dryRun: false });
  expect(res.status).toBe(200);
  expect(res.headers.get("content-disposition")).toBe(`attachment; filename="shades-model-p${projectId}-r${runId}.zip"; filename*=UTF-8''shades-model-p${projectId}-r${runId}.zip`);
  const entries = await zipEntries(Buffer.from(await res.arrayBuffer()));
  expect([...entries.keys()].sort()).toEqual(["README.md", "group1-shard1of1.bin", "labels.json", "metrics.json", "model.json", "preprocessing.json"]);
  // Current class names, in the run's output order.
  expect(JSON.parse(entries.get("labels.json")!.toString())).toEqual([
    { index: 0, classId: classIds[0], name: "dark" },
    { index: 1, classId: classIds[1], name: "middle" },
    { index: 2, classId: classIds[2], name: "bright" },
  ]);
  expect(JSON.parse(entries.get("preprocessing.json")!.toString())).toMatchObject({ size: 8, channels: 1, inputShape: [null, 8, 8, 1], colorSpace: "grayscale", normalization: { description: "divide by 255 to [0,1]" }, resize: { fit: "fill" } });
  // 3 of 4 held-out human labels: too few for a figure, so metrics.json gives the counts and says so instead of "75%".
  expect(JSON.parse(entries.get("metrics.json")!.toString())).toMatchObject({
    modelVersion: `p${projectId}-r${runId}`,
    heldOutAccuracy: null,
    heldOutInterval95: null,
    heldOutCorrect: 3,
    heldOutImages: 4,
    heldOutSummary: "not enough labels (n=4)",
    step: 4,
  });
  expect(entries.get("group1-shard1of1.bin")!.equals(fs.readFileSync(path.join(modelFilesDir(runId), "group1-shard1of1.bin")))).toBe(true);
});

it("predicts one image, raw or multipart: every class once, most probable first, stamped with the model version", async () => {
  const png = await gray(200);
  const raw = await readImageBody(new Request("http://x/predict", { method: "POST", body: png, headers: { "content-type": "image/png" } }));
  const form = new FormData();
  form.append("image", new File([new Uint8Array(png)], "photo.png", { type: "image/png" }));
  const multipart = await readImageBody(new Request("http://x/predict", { method: "POST", body: form }));
  expect(multipart.equals(raw)).toBe(true);

  const result = await predictUploadedImage(db, projectId, raw);
  // The README's promise: wasm in the web server, and the answer says which backend and why.
  expect(result).toMatchObject({ runId, modelVersion: `p${projectId}-r${runId}`, backendReason: WEB_BACKEND_REASON });
  expect(result.backend).toMatch(/^wasm \((no )?SIMD, \d+ threads?\)$/);
  expect(result.probs.map((p) => p.classId).sort()).toEqual([...classIds].sort());
  expect(result.probs.map((p) => p.p)).toEqual([...result.probs.map((p) => p.p)].sort((a, b) => b - a));
  expect(result.probs.reduce((s, p) => s + p.p, 0)).toBeCloseTo(1, 5);
  // Warm: the model stays loaded (no load time); how fast it is, is bench/predict.ts's job.
  const warm = await predictUploadedImage(db, projectId, await gray(30));
  expect(warm.timing.loadMs).toBe(0);
  expect(warm.timing.predictMs).toBeGreaterThan(0);
});

it("rejects what is not an image (415), an empty body (400), another project's run (404), a run that did not succeed (409)", async () => {
  const status = (p: Promise<unknown>) => p.then(() => 200, (e: unknown) => (e instanceof AppError ? e.status : 500));
  expect(await status(predictUploadedImage(db, projectId, Buffer.from("not an image")))).toBe(415);
  expect(await status(readImageBody(new Request("http://x/predict", { method: "POST", body: new Uint8Array(0) })))).toBe(400);
  const other = makeProject(db, "other");
  expect(await status(predictUploadedImage(db, other, await gray(10), runId))).toBe(404);
  expect(await status(predictUploadedImage(db, other, await gray(10)))).toBe(404);
  const running = createRun(db, { projectId, mode: "fixmatch", totalSteps: 5, config: {} });
  updateRun(db, running.id, { status: "running" });
  expect(await status(predictUploadedImage(db, projectId, await gray(10), running.id))).toBe(409);
});

it("the web-facing modules do not load tfjs until the first prediction", () => {
  // A fresh process: this one has tfjs loaded by the tests above. tfjs-core puts its engine on the global object when loaded.
  const script = [
    'const m = await import("./lib/training/predict.ts");',
    'await import("./lib/training/model-export.ts");',
    'const before = "_tfengine" in globalThis;',
    // The control: the probe does see tfjs once it is loaded.
    'await import("./lib/ml/tf.ts");',
    'console.log(JSON.stringify({ loaded: typeof (m.predictUploadedImage ?? m.default?.predictUploadedImage) === "function", before, after: "_tfengine" in globalThis }));',
  ].join("\n");
  const out = execFileSync(process.execPath, ["--import", "tsx", "--input-type=module", "-e", script], { encoding: "utf8", env: { ...process.env, NODE_OPTIONS: "" } });
  expect(JSON.parse(out.trim().split("\n").pop()!)).toEqual({ loaded: true, before: false, after: true });
});
