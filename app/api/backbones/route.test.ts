import fs from "node:fs";
import path from "node:path";
import { afterEach, beforeEach, expect, it } from "vitest";
import { makeZip } from "@/lib/dataset/test-fixtures";
import { stagingDir } from "@/lib/storage";
import { makeTestDb } from "@/lib/testing/db";
import { POST } from "./route";

let dataDir: string;
let cleanup: () => void;

beforeEach(() => {
  ({ dataDir, cleanup } = makeTestDb());
});
afterEach(() => cleanup());

const MODEL_JSON = JSON.stringify({
  format: "layers-model",
  modelTopology: { class_name: "Sequential", config: { name: "m", layers: [{ class_name: "Dense", config: { name: "feat", units: 1, batch_input_shape: [null, 2] } }] } },
  weightsManifest: [{ paths: ["w.bin"], weights: [{ name: "feat/kernel", shape: [2, 1], dtype: "float32" }] }],
});

const post = (body: BodyInit | null) => POST(new Request("http://localhost/api/backbones", { method: "POST", body, headers: { "content-type": "application/zip" } }), { params: Promise.resolve({}) });
const stagedFiles = () => (fs.existsSync(stagingDir()) ? fs.readdirSync(stagingDir()) : []);

it("stores a zipped layers model: 201 with its source and layers; the staged zip is removed", async () => {
  const zip = await makeZip([{ name: "model.json", data: MODEL_JSON }, { name: "w.bin", data: Buffer.alloc(8) }]);
  const res = await post(new Uint8Array(zip));
  expect(res.status).toBe(201);
  const body = (await res.json()) as { source: string; layers: string[] };
  expect(body.layers).toEqual(["feat"]);
  expect(fs.existsSync(path.join(dataDir, "backbones", body.source, "w.bin"))).toBe(true);
  expect(stagedFiles()).toEqual([]);
});

it("answers 400 naming the problem for a zip whose weights do not match model.json, and for no body", async () => {
  const zip = await makeZip([{ name: "model.json", data: MODEL_JSON }, { name: "w.bin", data: Buffer.alloc(5) }]);
  const res = await post(new Uint8Array(zip));
  expect(res.status).toBe(400);
  expect(((await res.json()) as { error: { message: string } }).error.message).toMatch(/hold 5 bytes but model.json's weightsManifest describes 8/);
  expect((await post(null)).status).toBe(400);
  expect(stagedFiles()).toEqual([]);
});
