/**
 * Where a backbone's files come from and where they are kept, without tfjs: the runs API, the CLI
 * and the UI can name and describe a backbone with this module alone.
 *
 *   mobilenet-v2:<alpha>   the public Keras MobileNetV2 (ImageNet, no top) as a tfjs layers model,
 *                          downloaded once to <dataDir>/backbones/mobilenet-v2-<alpha>/
 *   custom, http(s) URL    a model.json URL, downloaded once to <dataDir>/backbones/url-<hash>/
 *   custom, uploaded-<h>   a zip uploaded in the UI, stored in <dataDir>/backbones/uploaded-<h>/
 *   custom, a folder       an absolute folder on the server holding model.json and its shards (read
 *                          in place; the caller checks it against FIXLABEL_IMPORT_ROOT)
 */
import crypto from "node:crypto";
import path from "node:path";
import { MOBILENET_V2_ALPHAS, type BackboneRef, type MobileNetV2Alpha, type Preprocessing } from "./types";

export const MOBILENET_V2_PREPROCESSING: Preprocessing = { inputSize: 224, channels: 3, scale: 1 / 127.5, offset: -1 };
export const MOBILENET_V2_CUT = "out_relu";

export function mobileNetV2Url(alpha: MobileNetV2Alpha): string {
  return `https://storage.googleapis.com/teachable-machine-models/mobilenet_v2_weights_tf_dim_ordering_tf_kernels_${alpha}_224_no_top/model.json`;
}

export const UPLOADED_PREFIX = "uploaded-";

export function isUrl(source: string): boolean {
  return /^https?:\/\//i.test(source);
}

export function isUploaded(source: string): boolean {
  return new RegExp(`^${UPLOADED_PREFIX}[0-9a-f]{16,64}$`).test(source);
}

function shortHash(text: string): string {
  return crypto.createHash("sha256").update(text).digest("hex").slice(0, 16);
}

export function backbonesDir(dataDir: string): string {
  return path.join(dataDir, "backbones");
}

/** The folder holding the ref's model.json and shards (downloaded ones and uploads live in dataDir). */
export function backboneFolder(ref: BackboneRef, dataDir: string): string {
  if (ref.kind === "mobilenet-v2") return path.join(backbonesDir(dataDir), `mobilenet-v2-${ref.alpha}`);
  if (isUrl(ref.source)) return path.join(backbonesDir(dataDir), `url-${shortHash(ref.source)}`);
  if (isUploaded(ref.source)) return path.join(backbonesDir(dataDir), ref.source);
  return path.resolve(ref.source);
}

/** The model.json URL to download, or null for a folder or an upload (nothing to download). */
export function backboneUrl(ref: BackboneRef): string | null {
  if (ref.kind === "mobilenet-v2") return mobileNetV2Url(ref.alpha);
  return isUrl(ref.source) ? ref.source : null;
}

export function backboneCutLayer(ref: BackboneRef): string {
  return ref.kind === "mobilenet-v2" ? MOBILENET_V2_CUT : ref.cutLayer;
}

export function backbonePreprocessing(ref: BackboneRef): Preprocessing {
  return ref.kind === "mobilenet-v2" ? MOBILENET_V2_PREPROCESSING : ref.preprocessing;
}

/** A short human name: "ImageNet MobileNetV2 (alpha 1.00)", "your backbone at <source> (cut at X)". */
export function describeBackbone(ref: BackboneRef): string {
  if (ref.kind === "mobilenet-v2") return `ImageNet MobileNetV2 (alpha ${ref.alpha})`;
  return `your backbone ${ref.source} (cut at ${ref.cutLayer})`;
}

/** The command that fetches the files on a connected machine (printed when offline). */
export function fetchCommand(ref: BackboneRef): string {
  if (ref.kind === "mobilenet-v2") return `npm run backbone:fetch -- --alpha ${ref.alpha}`;
  return `npm run backbone:fetch -- --url ${ref.source} --out <folder>`;
}

/**
 * Parses the CLI's and forms' short spelling: "mobilenet-v2:1.00" (or "mobilenet-v2", alpha 1.00),
 * else a folder or URL with a cut layer (custom, preprocessing [-1, 1] at 224 px unless given).
 */
export function parseBackboneArg(
  arg: string,
  opts: { cutLayer?: string; preprocessing?: Preprocessing } = {},
): BackboneRef {
  const m = /^mobilenet-?v2(?::(.+))?$/i.exec(arg.trim());
  if (m) {
    const raw = m[1] ?? "1.00";
    const alpha = MOBILENET_V2_ALPHAS.find((a) => Number(a) === Number(raw));
    if (!alpha) throw new Error(`MobileNetV2 alpha must be one of ${MOBILENET_V2_ALPHAS.join(", ")}, got ${raw}`);
    return { kind: "mobilenet-v2", alpha };
  }
  if (!opts.cutLayer) throw new Error(`a custom backbone (${arg}) needs the layer to cut at (--cut-layer NAME)`);
  return { kind: "custom", source: arg.trim(), cutLayer: opts.cutLayer, preprocessing: opts.preprocessing ?? MOBILENET_V2_PREPROCESSING };
}
