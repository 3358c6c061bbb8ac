import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { expect, test, type APIRequestContext } from "@playwright/test";
import yazl from "yazl";
import { readZip } from "./fixtures";
import { makeBrightDarkSet, openTrainPanel } from "./fixtures-train";

/**
 * The train panel's "Start from" choice against the built app: with no internet here, ImageNet
 * MobileNetV2 is not available and the panel says so and what it trains instead (never a silent
 * fallback); "Your own backbone" takes an uploaded zip, lists its layers to cut at, and the run it
 * starts names that backbone in its card.
 */

/** A TensorFlow.js layers model (one 3x3 conv on 16x16 RGB) as model.json + one shard, zipped. */
function backboneZip(): Promise<string> {
  const modelJson = {
    format: "layers-model",
    modelTopology: {
      class_name: "Sequential",
      config: {
        name: "tiny_backbone",
        layers: [
          {
            class_name: "Conv2D",
            config: { name: "conv", trainable: true, batch_input_shape: [null, 16, 16, 3], dtype: "float32", filters: 2, kernel_size: [3, 3], strides: [1, 1], padding: "same", data_format: "channels_last", dilation_rate: [1, 1], activation: "relu", use_bias: true },
          },
        ],
      },
      keras_version: "tfjs-layers 4.22.0",
      backend: "tensor_flow.js",
    },
    weightsManifest: [{ paths: ["group1-shard1of1.bin"], weights: [{ name: "conv/kernel", shape: [3, 3, 3, 2], dtype: "float32" }, { name: "conv/bias", shape: [2], dtype: "float32" }] }],
  };
  const weights = Buffer.alloc((3 * 3 * 3 * 2 + 2) * 4);
  for (let i = 0; i < weights.length / 4; i++) weights.writeFloatLE(((i % 7) - 3) / 10, i * 4);
  const file = path.join(fs.mkdtempSync(path.join(os.tmpdir(), "fixlabel-e2e-backbone-")), "my-backbone.zip");
  const zip = new yazl.ZipFile();
  zip.addBuffer(Buffer.from(JSON.stringify(modelJson)), "my-backbone/model.json");
  zip.addBuffer(weights, "my-backbone/group1-shard1of1.bin");
  zip.end();
  return new Promise((resolve) => zip.outputStream.pipe(fs.createWriteStream(file)).on("close", () => resolve(file)));
}

async function labeledProject(request: APIRequestContext): Promise<number> {
  const created = await request.post("/api/projects", { data: { name: "E2E backbone", classes: [{ name: "bright" }, { name: "dark" }] } });
  const projectId = (await created.json()).project.id as number;
  const classes = (await (await request.get(`/api/projects/${projectId}`)).json()).classes as { id: number; name: string }[];
  const { bright, dark } = await makeBrightDarkSet(4);
  const form = new FormData();
  for (const file of [...bright, ...dark]) form.append("files", new Blob([fs.readFileSync(file)], { type: "image/png" }), path.basename(file));
  const added = (await (await request.post(`/api/projects/${projectId}/uploads`, { multipart: form })).json()).added as { id: number; name: string }[];
  for (const cls of classes) {
    const imageIds = added.filter((a) => a.name.startsWith(cls.name)).slice(0, 2).map((a) => a.id);
    expect((await request.post(`/api/projects/${projectId}/labels`, { data: { imageIds, classId: cls.id } })).ok()).toBe(true);
  }
  return projectId;
}

test("MobileNetV2 unavailable is said with what trains instead; your own backbone from an uploaded zip reaches the run", async ({ page, request }) => {
  test.setTimeout(180_000);
  const projectId = await labeledProject(request);
  await openTrainPanel(page, projectId);

  // No internet on this machine: not downloaded, not downloadable.
  const notice = page.getByTestId("mobilenet-unavailable");
  await expect(notice).toContainText("ImageNet MobileNetV2 is not available");
  await expect(notice).toContainText("npm run backbone:fetch -- --alpha 1.00");
  await expect(notice).toContainText(/This run trains .+ from scratch instead/);
  await expect(page.getByTestId("start-mobilenet")).toBeDisabled();
  await expect(page.getByTestId("start-scratch")).toBeChecked();
  await expect(page.getByTestId("train-button")).toBeEnabled();

  await page.getByTestId("start-custom").check();
  await expect(page.getByTestId("train-button")).toBeDisabled();
  await page.getByTestId("custom-source-kind").selectOption("upload");
  await page.getByTestId("custom-zip").setInputFiles(await backboneZip());
  await expect(page.getByTestId("custom-uploaded")).toContainText("my-backbone.zip: stored, 1 layers");
  await expect(page.getByTestId("custom-input-size")).toHaveValue("16");
  await expect(page.getByTestId("train-blocked")).toContainText("name the layer to cut at");
  await page.getByTestId("custom-cut-layer").selectOption("conv");
  // Frozen is the CPU mode, picked by default.
  await expect(page.getByTestId("mode-frozen")).toBeChecked();

  const [response] = await Promise.all([
    page.waitForResponse((r) => r.request().method() === "POST" && new URL(r.url()).pathname === `/api/projects/${projectId}/runs`),
    page.getByTestId("train-button").click(),
  ]);
  expect(response.status()).toBe(201);
  const overrides = (await response.json()).run.config.request.overrides;
  expect(overrides.backbone).toMatchObject({ kind: "custom", cutLayer: "conv", preprocessing: { inputSize: 16, channels: 3, offset: -1 } });
  expect(overrides.backbone.source).toMatch(/^uploaded-[0-9a-f]{16}$/);
  expect(overrides.backboneMode).toBe("frozen");
  await expect(page.getByTestId("run-backbone")).toContainText(`Starts from your backbone ${overrides.backbone.source} (cut at conv), frozen`);

  // The frozen run to its end: cached features, instant heads, the FixMatch head, proposals.
  const runId = (await response.json()).run.id as number;
  await expect
    .poll(async () => (await (await request.get(`/api/runs/${runId}`)).json()).run.status, { timeout: 120_000, intervals: [1000] })
    .toBe("succeeded");

  // The review page says which model made the proposals: a head on that backbone's features.
  await page.goto(`/projects/${projectId}/review`);
  await expect(page.getByTestId("review-model")).toContainText(`p${projectId}-r${runId}`);
  await expect(page.getByTestId("review-model")).toContainText(
    new RegExp(`proposed by (a FixMatch head|a linear probe|a nearest class mean) on your backbone ${overrides.backbone.source} \\(cut at conv\\) features`),
  );

  // The export: one layers model (backbone cut + pooling + head + softmax) on the backbone's preprocessing.
  const exported = await request.get(`/api/projects/${projectId}/export/model?runId=${runId}`);
  expect(exported.status()).toBe(200);
  const file = path.join(fs.mkdtempSync(path.join(os.tmpdir(), "fixlabel-e2e-backbone-model-")), "model.zip");
  fs.writeFileSync(file, await exported.body());
  const entries = await readZip(file);
  fs.rmSync(path.dirname(file), { recursive: true, force: true });
  const layerNames = (JSON.parse(entries.get("model.json")!.toString()) as { modelTopology: { config: { layers: { name: string }[] } } }).modelTopology.config.layers.map((l) => l.name);
  expect(layerNames).toContain("conv");
  expect(JSON.parse(entries.get("preprocessing.json")!.toString())).toMatchObject({ size: 16, channels: 3 });
  expect((JSON.parse(entries.get("labels.json")!.toString()) as { name: string }[]).map((l) => l.name)).toEqual(["bright", "dark"]);
});
