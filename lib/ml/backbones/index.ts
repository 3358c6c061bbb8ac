/**
 * Loads a pretrained backbone for a run: finds its files (downloading them once, with progress,
 * into <dataDir>/backbones/), checks them, loads the weights, and cuts the network at its cut
 * layer followed by global average pooling: the feature extractor.
 *
 * Never a silent fallback: a backbone that cannot be had (no network and no cached copy, corrupt
 * files, a missing cut layer) is an error whose message says what to do; whoever asked for it
 * decides, visibly, what to train instead.
 */
import crypto from "node:crypto";
import fsp from "node:fs/promises";
import path from "node:path";
import { buildMobileNetV2 } from "../models/mobilenetv2";
import * as tf from "../tf";
import {
  BackboneFilesError,
  downloadModel,
  filesHash,
  readModelFolder,
  topologyLayerNames,
  type DownloadProgress,
  type FetchImpl,
  type ModelFiles,
} from "./files";
import {
  backboneCutLayer,
  backboneFolder,
  backbonePreprocessing,
  backboneUrl,
  describeBackbone,
  fetchCommand,
} from "./sources";
import type { BackboneRef, LoadedBackbone } from "./types";

export { BackboneFilesError, type DownloadProgress } from "./files";
export * from "./sources";

/** The backbone's files are not here and cannot be downloaded. The message says how to get them. */
export class BackboneUnavailableError extends Error {
  constructor(
    message: string,
    readonly url: string | null,
    readonly folder: string,
    readonly command: string,
  ) {
    super(message);
    this.name = "BackboneUnavailableError";
  }
}

export type LoadBackboneOptions = {
  dataDir: string;
  onProgress?: (p: DownloadProgress) => void;
  fetchImpl?: FetchImpl;
};

export type BackboneStatus = {
  /** The files are on this machine (downloaded, uploaded, or the given folder). */
  cached: boolean;
  folder: string;
  /** Where they are downloaded from, or null when nothing is downloaded (folder, upload). */
  url: string | null;
  description: string;
};

export async function backboneStatus(ref: BackboneRef, dataDir: string): Promise<BackboneStatus> {
  const folder = backboneFolder(ref, dataDir);
  let cached = false;
  try {
    cached = (await fsp.stat(path.join(folder, "model.json"))).isFile();
  } catch {
    cached = false;
  }
  return { cached, folder, url: backboneUrl(ref), description: describeBackbone(ref) };
}

function concatGroups(files: ModelFiles): ArrayBuffer {
  const parts = (files.json.weightsManifest ?? []).flatMap((g) => g.paths.map((p) => files.shards.get(p) ?? Buffer.alloc(0)));
  const all = Buffer.concat(parts);
  return all.buffer.slice(all.byteOffset, all.byteOffset + all.byteLength) as ArrayBuffer;
}

/** "layer/param" from a weight name that may carry a model prefix ("mobilenetv2_1.00_224/Conv1/kernel"). */
function layerParam(name: string): string {
  return name.split("/").slice(-2).join("/").replace(/:0$/, "");
}

/**
 * MobileNetV2 from our builder with the files' weights set by name, so the architecture (and its
 * cut layer) is ours whatever Keras version converted the files; every weight must be present
 * with its exact shape.
 */
function loadMobileNetV2(files: ModelFiles, alpha: number, where: string): tf.LayersModel {
  const specs = (files.json.weightsManifest ?? []).flatMap((g) => g.weights);
  const decoded = tf.io.decodeWeights(concatGroups(files), specs as tf.io.WeightsManifestEntry[]);
  const byName = new Map(Object.entries(decoded).map(([name, t]) => [layerParam(name), t]));
  const model = buildMobileNetV2({ alpha });
  try {
    const values = model.weights.map((w) => {
      const t = byName.get(layerParam(w.originalName));
      if (!t) throw new BackboneFilesError(`${where}: weight ${w.originalName} of MobileNetV2 (alpha ${alpha}) is not in model.json's weightsManifest: wrong alpha or not a Keras MobileNetV2`);
      if (!tf.util.arraysEqual(t.shape, w.shape as number[])) {
        throw new BackboneFilesError(`${where}: weight ${w.originalName} has shape [${t.shape}] in the files but MobileNetV2 (alpha ${alpha}) needs [${w.shape}]`);
      }
      return t;
    });
    model.setWeights(values);
    return model;
  } catch (err) {
    model.dispose();
    throw err;
  } finally {
    for (const t of Object.values(decoded)) t.dispose();
  }
}

async function loadCustom(files: ModelFiles, where: string): Promise<tf.LayersModel> {
  const weightSpecs = (files.json.weightsManifest ?? []).flatMap((g) => g.weights) as tf.io.WeightsManifestEntry[];
  try {
    return await tf.loadLayersModel(
      tf.io.fromMemory({ modelTopology: files.json.modelTopology as object, weightSpecs, weightData: concatGroups(files) }),
      { strict: true },
    );
  } catch (err) {
    throw new BackboneFilesError(`${where}: the weights do not load into the model (${err instanceof Error ? err.message : String(err)})`);
  }
}

/**
 * `model` cut at `cutLayer`, followed by global average pooling when that layer's output is a
 * feature map (rank 4); a rank-2 output is used as it is.
 */
export function cutAndPool(model: tf.LayersModel, cutLayer: string): tf.LayersModel {
  const layer = model.getLayer(cutLayer);
  const out = layer.output;
  if (Array.isArray(out)) throw new BackboneFilesError(`layer ${cutLayer} has several outputs: cut at a layer with one`);
  let features = out;
  if (out.shape.length === 4) features = tf.layers.globalAveragePooling2d({ name: "backbone_pool" }).apply(out) as tf.SymbolicTensor;
  else if (out.shape.length !== 2) throw new BackboneFilesError(`layer ${cutLayer} outputs shape [${out.shape}]: cut at a feature map [N, H, W, C] or a vector [N, D]`);
  return tf.model({ inputs: model.inputs, outputs: features, name: "backbone_extractor" });
}

function checkFiles(files: ModelFiles, ref: BackboneRef, where: string): void {
  const cut = backboneCutLayer(ref);
  const names = topologyLayerNames(files.json.modelTopology);
  if (!names.includes(cut)) {
    const tail = names.slice(-8).join(", ");
    throw new BackboneFilesError(`${where}: the model has no layer named "${cut}" to cut at (its last layers: ${tail})`);
  }
}

async function modelFromFiles(files: ModelFiles, ref: BackboneRef, where: string): Promise<tf.LayersModel> {
  checkFiles(files, ref, where);
  const model = ref.kind === "mobilenet-v2" ? loadMobileNetV2(files, Number(ref.alpha), where) : await loadCustom(files, where);
  const pre = backbonePreprocessing(ref);
  const inputShape = model.inputs[0].shape;
  const [h, w, c] = inputShape.slice(1);
  if (inputShape.length !== 4 || (h !== null && h !== pre.inputSize) || (w !== null && w !== pre.inputSize) || c !== pre.channels) {
    model.dispose();
    throw new BackboneFilesError(`${where}: the model takes input [${inputShape}] but the preprocessing says ${pre.inputSize}x${pre.inputSize}x${pre.channels}`);
  }
  return model;
}

/**
 * Checks a folder of files as `ref` would use them (sizes, cut layer, the weights load with the
 * right shapes, the input fits the preprocessing). Throws BackboneFilesError; loads nothing to keep.
 */
export async function verifyBackboneFolder(ref: BackboneRef, folder: string): Promise<{ layers: number; weights: number }> {
  const model = await modelFromFiles(await readModelFolder(folder), ref, folder);
  const summary = { layers: model.layers.length, weights: model.countParams() };
  model.dispose();
  return summary;
}

function unavailable(ref: BackboneRef, folder: string, why: string): BackboneUnavailableError {
  const url = backboneUrl(ref);
  const command = fetchCommand(ref);
  const from = url ? `cannot be downloaded from ${url} (${why})` : `is not on this machine (${why})`;
  return new BackboneUnavailableError(
    `${describeBackbone(ref)} ${from}, and there is no copy in ${folder}. ` +
      `Put model.json and its .bin weight files in ${folder}` +
      (url ? `: on a machine with internet run \`${command}\` and copy the folder it writes there.` : "."),
    url,
    folder,
    command,
  );
}

/**
 * The backbone `ref`, from its cached copy or downloaded (once) into <dataDir>/backbones/.
 * Throws BackboneUnavailableError (offline, no copy) or BackboneFilesError (bad files).
 */
export async function loadBackbone(ref: BackboneRef, opts: LoadBackboneOptions): Promise<LoadedBackbone> {
  const folder = backboneFolder(ref, opts.dataDir);
  const url = backboneUrl(ref);
  const status = await backboneStatus(ref, opts.dataDir);
  let files: ModelFiles;
  let model: tf.LayersModel | null = null;
  if (status.cached) {
    files = await readModelFolder(folder);
    model = await modelFromFiles(files, ref, folder);
  } else if (url) {
    await fsp.mkdir(path.dirname(folder), { recursive: true });
    const fetchImpl = opts.fetchImpl ?? ((u: string) => fetch(u));
    try {
      await downloadModel({
        url,
        dest: folder,
        fetchImpl,
        onProgress: opts.onProgress,
        verify: async (temp) => {
          model = await modelFromFiles(await readModelFolder(temp), ref, url);
        },
      });
    } catch (err) {
      (model as tf.LayersModel | null)?.dispose();
      if (err instanceof BackboneFilesError) throw err;
      const cause = err instanceof Error ? ((err.cause as Error | undefined)?.message ?? err.message) : String(err);
      throw unavailable(ref, folder, cause);
    }
    files = await readModelFolder(folder);
  } else {
    throw unavailable(ref, folder, "no model.json there");
  }
  const full = model as unknown as tf.LayersModel;
  const extractor = cutAndPool(full, backboneCutLayer(ref));
  const featureDim = extractor.outputs[0].shape[1] as number;
  // Features depend on the weights, the cut and the preprocessing: a change of any is a new id.
  const id =
    ref.kind === "mobilenet-v2"
      ? `mobilenet-v2-${ref.alpha}`
      : `custom-${crypto.createHash("sha256").update(`${filesHash(files)}|${ref.cutLayer}|${JSON.stringify(ref.preprocessing)}`).digest("hex").slice(0, 16)}`;
  return { id, ref, preprocessing: backbonePreprocessing(ref), featureDim, extractor };
}

