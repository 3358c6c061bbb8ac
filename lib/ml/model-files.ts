/**
 * A trained model as standard TensorFlow.js files: a layers-model model.json and its weight shards,
 * readable by tf.loadLayersModel anywhere (browser, Node, the tfjs converter). tfjs-core has no
 * file:// handler without tfjs-node, so the files are written through a save handler.
 *
 * The run's export (exportRunModel) is the EMA model, the one every prediction of the app comes
 * from, with a softmax on top: it outputs probabilities, so a user cannot forget the softmax the
 * app applies to the logits (infer.ts).
 */
import fsp from "node:fs/promises";
import path from "node:path";
import { hasRunHead, loadRunClassifier } from "./backbones/head";
import type { BackboneRef } from "./backbones/types";
import { MODEL_FILES_DIR } from "./export";
import { loadTrainedModel } from "./infer";
import * as tf from "./tf";

/** The tfjs converter's shard size: small enough for browser caches, few files for small models. */
const SHARD_BYTES = 4 * 1024 * 1024;

function weightBytes(data: tf.io.WeightData | undefined): Buffer {
  if (!data) return Buffer.alloc(0);
  return Array.isArray(data) ? Buffer.concat(data.map((b) => Buffer.from(b))) : Buffer.from(data);
}

/** Writes model.json + group1-shard<i>of<n>.bin into `dir` (created). Returns the file names. */
export async function saveLayersModel(model: tf.LayersModel, dir: string, shardBytes = SHARD_BYTES): Promise<string[]> {
  await fsp.mkdir(dir, { recursive: true });
  const files: string[] = [];
  await model.save(
    tf.io.withSaveHandler(async (artifacts) => {
      const bytes = weightBytes(artifacts.weightData);
      const count = Math.max(1, Math.ceil(bytes.length / shardBytes));
      const paths = Array.from({ length: count }, (_, i) => `group1-shard${i + 1}of${count}.bin`);
      for (const [i, name] of paths.entries()) await fsp.writeFile(path.join(dir, name), bytes.subarray(i * shardBytes, (i + 1) * shardBytes));
      const weightsManifest = [{ paths, weights: artifacts.weightSpecs ?? [] }];
      const modelJson = { format: "layers-model", generatedBy: `TensorFlow.js tfjs-layers v${tf.version_layers}`, convertedBy: null, modelTopology: artifacts.modelTopology, weightsManifest };
      await fsp.writeFile(path.join(dir, "model.json"), JSON.stringify(modelJson));
      files.push("model.json", ...paths);
      return { modelArtifactsInfo: { dateSaved: new Date(), modelTopologyType: "JSON", weightDataBytes: bytes.length } };
    }),
  );
  return files;
}

/** `logits` followed by a softmax layer, sharing its weights. */
export function withSoftmax(logits: tf.LayersModel): tf.LayersModel {
  const probs = tf.layers.activation({ activation: "softmax", name: "probabilities" }).apply(logits.outputs[0]) as tf.SymbolicTensor;
  return tf.model({ inputs: logits.inputs, outputs: probs, name: "fixlabel_classifier" });
}

/** A backbone run's export needs its backbone (from the run's config) and where backbones are kept. */
export type ExportBackbone = { ref: BackboneRef; dataDir: string };

/**
 * Writes <runDir>/export/ from the run's checkpoint (EMA weights), or for a frozen-backbone run
 * (a head in <runDir>/head/) from its backbone and head composed into one model. The files go to
 * a temporary folder that is renamed into place, so a reader sees the whole export or none.
 * Idempotent.
 */
export async function exportRunModel(runDir: string, backbone?: ExportBackbone | null): Promise<string> {
  const dest = path.join(runDir, MODEL_FILES_DIR);
  if (backbone && hasRunHead(runDir)) {
    const classifier = await loadRunClassifier(runDir, backbone.ref, backbone.dataDir);
    try {
      return await saveReplacing(classifier.model, dest);
    } finally {
      classifier.dispose();
    }
  }
  const { model } = await loadTrainedModel(runDir);
  try {
    return await saveReplacing(withSoftmax(model), dest);
  } finally {
    // Frees every weight; the softmax wrapper holds none of its own (disposing both would dispose
    // the shared layers twice, which tfjs-layers rejects).
    model.dispose();
  }
}

/** Saves `model` to a temporary folder beside `dest`, then swaps it in: a reader never sees half a model. */
async function saveReplacing(model: tf.LayersModel, dest: string): Promise<string> {
  const temp = `${dest}.tmp-${process.pid}-${Date.now()}`;
  try {
    await saveLayersModel(model, temp);
    await fsp.rm(dest, { recursive: true, force: true });
    await fsp.rename(temp, dest);
    return dest;
  } catch (err) {
    await fsp.rm(temp, { recursive: true, force: true });
    throw err;
  }
}
