/**
 * A backbone run's head and the classifier it makes with its backbone. The frozen-backbone trainer
 * (worker/handlers/train-frozen.ts) saves the head as a tfjs layers model, raw pooled features in,
 * logits out, in runs/<id>/head/ (model.json + shards, and head.json).
 */
import fs from "node:fs";
import path from "node:path";
import * as tf from "../tf";
import { composeClassifier } from "./compose";
import { readModelFolder } from "./files";
import { loadBackbone } from "./index";
import type { BackboneRef, LoadedBackbone } from "./types";

/** The folder of a backbone run's head inside its run folder. */
export const RUN_HEAD_DIR = "head";

export function hasRunHead(runDir: string): boolean {
  return fs.existsSync(path.join(runDir, RUN_HEAD_DIR, "model.json"));
}

/** The run's head (features -> logits). Caller disposes. */
export async function loadRunHead(runDir: string): Promise<tf.LayersModel> {
  const files = await readModelFolder(path.join(runDir, RUN_HEAD_DIR));
  const weightSpecs = (files.json.weightsManifest ?? []).flatMap((g) => g.weights) as tf.io.WeightsManifestEntry[];
  const all = Buffer.concat((files.json.weightsManifest ?? []).flatMap((g) => g.paths.map((p) => files.shards.get(p)!)));
  return tf.loadLayersModel(
    tf.io.fromMemory({ modelTopology: files.json.modelTopology as object, weightSpecs, weightData: all.buffer.slice(all.byteOffset, all.byteOffset + all.byteLength) as ArrayBuffer }),
  );
}

export type RunClassifier = { model: tf.LayersModel; backbone: LoadedBackbone; dispose: () => void };

/** The backbone (from its cached files) + the run's head + softmax, as one model. */
export async function loadRunClassifier(runDir: string, ref: BackboneRef, dataDir: string): Promise<RunClassifier> {
  const backbone = await loadBackbone(ref, { dataDir });
  let head: tf.LayersModel;
  try {
    head = await loadRunHead(runDir);
  } catch (err) {
    backbone.extractor.dispose();
    throw err;
  }
  try {
    const model = composeClassifier(backbone, head);
    return {
      model,
      backbone,
      dispose: () => {
        backbone.extractor.dispose();
        head.dispose();
      },
    };
  } catch (err) {
    backbone.extractor.dispose();
    head.dispose();
    throw err;
  }
}
