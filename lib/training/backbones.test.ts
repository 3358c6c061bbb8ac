/**
 * The web side of backbones: a run's backbone choice goes through the runs API into the queued
 * request (a server folder only inside FIXLABEL_IMPORT_ROOT), an uploaded zip's model files are
 * stored and checked, and the availability of ImageNet MobileNetV2 says why it is not there.
 */
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import yazl from "yazl";
import { afterEach, beforeEach, expect, it } from "vitest";
import type { Db } from "@/lib/db/client";
import { setHumanLabels } from "@/lib/db/queries/labels";
import { createProject, getProjectWithClasses } from "@/lib/db/queries/projects";
import { getRun, updateRun, type RunRequest } from "@/lib/db/queries/training";
import { claimJob, heartbeatJob } from "@/lib/jobs";
import { resetEnvCache } from "@/lib/env";
import { AppError } from "@/lib/errors";
import { addImageRows, makeTestDb } from "@/lib/testing/db";
import { mobileNetAvailability, storeUploadedBackbone } from "./backbones";
import { listProjectRuns, startTrainingRunChecked } from "./runs";

let db: Db;
let dataDir: string;
let cleanup: () => void;
let projectId: number;
let importRoot: string;

const MODEL_JSON = {
  format: "layers-model",
  modelTopology: { class_name: "Sequential", config: { name: "m", layers: [{ class_name: "Dense", config: { name: "feat", units: 2, batch_input_shape: [null, 3] } }] } },
  weightsManifest: [{ paths: ["group1-shard1of1.bin"], weights: [{ name: "feat/kernel", shape: [3, 2], dtype: "float32" }, { name: "feat/bias", shape: [2], dtype: "float32" }] }],
};
const SHARD = Buffer.alloc(8 * 4, 1);

function writeModel(dir: string, shard = SHARD) {
  fs.mkdirSync(dir, { recursive: true });
  fs.writeFileSync(path.join(dir, "model.json"), JSON.stringify(MODEL_JSON));
  fs.writeFileSync(path.join(dir, "group1-shard1of1.bin"), shard);
}

function zipOf(entries: Record<string, Buffer | string>): Promise<string> {
  const file = path.join(dataDir, `${Object.keys(entries).length}-${Math.random()}.zip`);
  const zip = new yazl.ZipFile();
  for (const [name, data] of Object.entries(entries)) zip.addBuffer(Buffer.from(data), name);
  zip.end();
  return new Promise((resolve) => zip.outputStream.pipe(fs.createWriteStream(file)).on("close", () => resolve(file)));
}

beforeEach(() => {
  ({ db, dataDir, cleanup } = makeTestDb());
  importRoot = path.join(dataDir, "imports");
  fs.mkdirSync(importRoot);
  process.env.FIXLABEL_IMPORT_ROOT = importRoot;
  resetEnvCache();
  projectId = createProject(db, { name: "p", classes: [{ name: "a" }, { name: "b" }] }).id;
  const [a, b] = getProjectWithClasses(db, projectId).classes.map((c) => c.id);
  const ids = addImageRows(db, projectId, 4);
  setHumanLabels(db, projectId, { imageIds: [ids[0]], classId: a }, "ann");
  setHumanLabels(db, projectId, { imageIds: [ids[1]], classId: b }, "ann");
});
afterEach(() => {
  delete process.env.FIXLABEL_IMPORT_ROOT;
  resetEnvCache();
  cleanup();
});

/** A second project ready to train (one run per project at a time). */
function createProjectWithLabels(): number {
  const id = createProject(db, { name: `p${Math.random()}`, classes: [{ name: "a" }, { name: "b" }] }).id;
  const [a, b] = getProjectWithClasses(db, id).classes.map((c) => c.id);
  const ids = addImageRows(db, id, 2);
  setHumanLabels(db, id, { imageIds: [ids[0]], classId: a }, "ann");
  setHumanLabels(db, id, { imageIds: [ids[1]], classId: b }, "ann");
  return id;
}

const requestOf = (runId: number) => (getRun(db, runId).config as { request: RunRequest }).request;

it("queues a run with ImageNet MobileNetV2, frozen unless fine-tuning is asked for", async () => {
  const { run } = await startTrainingRunChecked(db, projectId, { mode: "fixmatch", preset: "quick-cpu", overrides: { backbone: { kind: "mobilenet-v2", alpha: "1.00" } } });
  expect(requestOf(run.id).overrides).toEqual({ backbone: { kind: "mobilenet-v2", alpha: "1.00" }, backboneMode: "frozen" });
});

it("a request naming no backbone starts from ImageNet MobileNetV2 when its weights are downloaded, and says so", async () => {
  writeModel(path.join(dataDir, "backbones", "mobilenet-v2-1.00"));
  const { run } = await startTrainingRunChecked(db, projectId, { mode: "fixmatch", preset: "quick-cpu", overrides: { steps: 300 } });
  expect(requestOf(run.id).overrides).toEqual({ backbone: { kind: "mobilenet-v2", alpha: "1.00" }, backboneMode: "frozen" });
  expect(requestOf(run.id).steps).toBe(300);
  const startFrom = { backbone: { kind: "mobilenet-v2", alpha: "1.00" }, by: "default", reason: `ImageNet MobileNetV2 (alpha 1.00) is the default start, and its weights are downloaded (${path.join(dataDir, "backbones", "mobilenet-v2-1.00")})` };
  // In the run the API answers with, in the stored request, and in the run list.
  expect(run.startFrom).toEqual(startFrom);
  expect(requestOf(run.id).startFrom).toEqual(startFrom);
  expect(listProjectRuns(db, projectId).runs[0].startFrom).toEqual(startFrom);
});

it("backbone: null trains from scratch even when MobileNetV2 is downloaded", async () => {
  writeModel(path.join(dataDir, "backbones", "mobilenet-v2-1.00"));
  const { run } = await startTrainingRunChecked(db, projectId, { mode: "fixmatch", preset: "quick-cpu", overrides: { backbone: null } });
  expect(requestOf(run.id).overrides).toEqual({ backbone: null });
  expect(run.startFrom).toEqual({ backbone: null, by: "request", reason: "from scratch, as the request asked (backbone: null)" });
});

it("without MobileNetV2's weights a request naming no backbone trains the preset's model from scratch, and the run says why and which model", async () => {
  const { run } = await startTrainingRunChecked(db, projectId, { mode: "fixmatch", preset: "quick-cpu" });
  expect(requestOf(run.id).overrides).toEqual({ backbone: null });
  expect(run.startFrom).toMatchObject({ backbone: null, by: "default" });
  const folder = path.join(dataDir, "backbones", "mobilenet-v2-1.00");
  expect(run.startFrom!.reason).toBe(
    `ImageNet MobileNetV2 (alpha 1.00), the default start, is not downloaded (no model.json in ${folder}), so this run trains the Compact ResNet (width 16, 1 block/stage, ~80k weights) from scratch instead. ` +
      "To start from it: npm run backbone:fetch -- --alpha 1.00 on a connected machine and copy the folder there, or ask for it by name and it is downloaded on first use",
  );
  // The model named is the one the run trains: an override of the model changes it.
  const other = await startTrainingRunChecked(db, createProjectWithLabels(), { mode: "fixmatch", preset: "quick-cpu", overrides: { model: "resnet-8x1" } });
  expect(other.run.startFrom!.reason).toContain("so this run trains the Tiny ResNet (width 8, 1 block/stage, ~20k weights) from scratch instead");
});

it("a server folder must be inside FIXLABEL_IMPORT_ROOT and hold model.json; it is stored as its real path", async () => {
  writeModel(path.join(importRoot, "mine"));
  const custom = (source: string) => ({ kind: "custom" as const, source, cutLayer: "feat", preprocessing: { inputSize: 32, channels: 3 as const, scale: 1 / 255, offset: 0 } });
  const outside = fs.mkdtempSync(path.join(os.tmpdir(), "outside-"));
  writeModel(outside);
  const err = await startTrainingRunChecked(db, projectId, { mode: "fixmatch", preset: "quick-cpu", overrides: { backbone: custom(outside) } }).catch((e: unknown) => e);
  expect(err).toBeInstanceOf(AppError);
  expect((err as AppError).status).toBe(403);
  expect((err as AppError).message).toMatch(/outside the import root/);
  fs.rmSync(outside, { recursive: true });

  fs.mkdirSync(path.join(importRoot, "empty"));
  await expect(startTrainingRunChecked(db, projectId, { mode: "fixmatch", preset: "quick-cpu", overrides: { backbone: custom("empty") } })).rejects.toThrow(/has no model.json/);

  const { run } = await startTrainingRunChecked(db, projectId, { mode: "supervised", preset: "quick-cpu", overrides: { backbone: custom("mine"), backboneMode: "finetune" } });
  const overrides = requestOf(run.id).overrides!;
  expect(overrides.backbone).toMatchObject({ kind: "custom", source: fs.realpathSync(path.join(importRoot, "mine")), cutLayer: "feat" });
  expect(overrides.backboneMode).toBe("finetune");
});

it("refuses a backbone mode without a backbone, and unknown backbone fields", async () => {
  await expect(startTrainingRunChecked(db, projectId, { mode: "fixmatch", preset: "quick-cpu", overrides: { backboneMode: "frozen" } })).rejects.toThrow(/backboneMode needs a backbone/);
  await expect(
    startTrainingRunChecked(db, projectId, { mode: "fixmatch", preset: "quick-cpu", overrides: { backbone: { kind: "mobilenet-v2", alpha: "2.00" } } as never }),
  ).rejects.toThrow();
});

it("stores an uploaded zip's model files under backbones/uploaded-<hash>/ and lists its layers", async () => {
  const zip = await zipOf({ "export/model.json": JSON.stringify(MODEL_JSON), "export/group1-shard1of1.bin": SHARD, "export/notes.txt": "ignored" });
  const uploaded = await storeUploadedBackbone(zip);
  expect(uploaded.source).toMatch(/^uploaded-[0-9a-f]{16}$/);
  expect(uploaded.layers).toEqual(["feat"]); // the layers, not the model's own name "m"
  expect(uploaded.inputShape).toEqual([null, 3]);
  const folder = path.join(dataDir, "backbones", uploaded.source);
  expect(fs.readdirSync(folder).sort()).toEqual(["group1-shard1of1.bin", "model.json"]);
  // The same files again: the same source, nothing duplicated.
  expect((await storeUploadedBackbone(zip)).source).toBe(uploaded.source);
  expect(fs.readdirSync(path.join(dataDir, "backbones"))).toEqual([uploaded.source]);

  const { run } = await startTrainingRunChecked(db, projectId, {
    mode: "fixmatch",
    preset: "quick-cpu",
    overrides: { backbone: { kind: "custom", source: uploaded.source, cutLayer: "feat", preprocessing: { inputSize: 8, channels: 3, scale: 1, offset: 0 } } },
  });
  expect(requestOf(run.id).overrides!.backbone).toMatchObject({ source: uploaded.source });
  await expect(
    startTrainingRunChecked(db, projectId, { mode: "fixmatch", preset: "quick-cpu", overrides: { backbone: { kind: "custom", source: "uploaded-0123456789abcdef", cutLayer: "feat" } } }),
  ).rejects.toThrow(/upload its zip again/);
});

it("refuses a zip with a truncated shard, without model.json, or with an entry climbing out", async () => {
  await expect(storeUploadedBackbone(await zipOf({ "model.json": JSON.stringify(MODEL_JSON), "group1-shard1of1.bin": SHARD.subarray(0, 20) }))).rejects.toThrow(
    /hold 20 bytes but model.json's weightsManifest describes 32/,
  );
  await expect(storeUploadedBackbone(await zipOf({ "a.bin": SHARD }))).rejects.toThrow(/no model.json/);
  // yazl refuses to write "../": write "xx/" and patch the name's bytes (same length) in the archive.
  const climbing = await zipOf({ "xx/model.json": JSON.stringify(MODEL_JSON) });
  fs.writeFileSync(climbing, Buffer.from(fs.readFileSync(climbing).toString("latin1").replaceAll("xx/model.json", "../model.json"), "latin1"));
  await expect(storeUploadedBackbone(climbing)).rejects.toThrow(/climbs out/);
  expect(fs.existsSync(path.join(dataDir, "backbones")) ? fs.readdirSync(path.join(dataDir, "backbones")) : []).toEqual([]);
});

it("MobileNetV2 availability: cached when its files are there, else why not (with the folder and command)", async () => {
  const offline = (() => Promise.reject(new TypeError("fetch failed", { cause: new Error("getaddrinfo ENOTFOUND storage.googleapis.com") }))) as typeof fetch;
  const missing = await mobileNetAvailability("0.50", offline);
  expect(missing).toMatchObject({ cached: false, downloadable: false, available: false });
  expect(missing.reason).toContain("ENOTFOUND");
  expect(missing.reason).toContain(path.join(dataDir, "backbones", "mobilenet-v2-0.50"));
  expect(missing.reason).toContain("npm run backbone:fetch -- --alpha 0.50");

  writeModel(path.join(dataDir, "backbones", "mobilenet-v2-0.50"));
  expect(await mobileNetAvailability("0.50", offline)).toMatchObject({ cached: true, available: true, reason: null });
  const online = (() => Promise.resolve(new Response(null, { status: 200 }))) as typeof fetch;
  expect(await mobileNetAvailability("0.75", online)).toMatchObject({ cached: false, downloadable: true, available: true });
});

it("a running run shows what its worker is doing (the backbone download's progress), and nothing once it ends", async () => {
  const { run } = await startTrainingRunChecked(db, projectId, { mode: "fixmatch", preset: "quick-cpu", overrides: { backbone: { kind: "mobilenet-v2", alpha: "1.00" } } });
  expect(listProjectRuns(db, projectId).runs[0].activity).toBeNull();
  claimJob(db, "w1", 60_000);
  updateRun(db, run.id, { status: "running" });
  heartbeatJob(db, run.jobId!, "w1", 60_000, { fraction: 0, message: "downloading backbone 3.1/14.0 MB" });
  expect(listProjectRuns(db, projectId).runs[0].activity).toBe("downloading backbone 3.1/14.0 MB");
  updateRun(db, run.id, { status: "failed", finishedAt: Date.now() });
  expect(listProjectRuns(db, projectId).runs[0].activity).toBeNull();
});
