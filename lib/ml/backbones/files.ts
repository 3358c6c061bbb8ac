/**
 * A tfjs layers model's files on disk or on a server: model.json + weight shards. Downloads them
 * with byte progress, checks them against the weights manifest, and stores them atomically (a
 * temporary folder renamed into place), so a folder that exists is a whole, checked copy.
 */
import crypto from "node:crypto";
import fsp from "node:fs/promises";
import path from "node:path";

export type ModelJson = {
  format?: string;
  modelTopology?: unknown;
  weightsManifest?: Array<{ paths: string[]; weights: WeightEntry[] }>;
};

type WeightEntry = { name: string; shape: number[]; dtype?: string; quantization?: { dtype: string } };

export type DownloadProgress = { bytesDone: number; bytesTotal: number; file: string };
export type FetchImpl = (url: string) => Promise<Response>;

/** Something wrong with a backbone's files; the message says what and where. */
export class BackboneFilesError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "BackboneFilesError";
  }
}

const BYTES_PER_DTYPE: Record<string, number> = { float32: 4, int32: 4, bool: 1, uint8: 1, uint16: 2, float16: 2, int8: 1, int16: 2, complex64: 8 };

/** Bytes of one weight as stored (its quantized dtype when it is quantized). */
function weightBytes(w: WeightEntry): number {
  const dtype = w.quantization?.dtype ?? w.dtype ?? "float32";
  const per = BYTES_PER_DTYPE[dtype];
  if (per === undefined) throw new BackboneFilesError(`weight ${w.name} has an unsupported dtype ${dtype}`);
  return w.shape.reduce((a, b) => a * b, 1) * per;
}

export function parseModelJson(text: string, where: string): ModelJson {
  let json: ModelJson;
  try {
    json = JSON.parse(text) as ModelJson;
  } catch (err) {
    throw new BackboneFilesError(`${where} is not valid JSON (${err instanceof Error ? err.message : String(err)})`);
  }
  if (!json || typeof json !== "object" || !json.modelTopology) throw new BackboneFilesError(`${where} has no modelTopology: not a TensorFlow.js layers model`);
  if (json.format && json.format !== "layers-model") throw new BackboneFilesError(`${where} is a TensorFlow.js ${json.format}, not a layers model (convert it with --output_format=tfjs_layers_model)`);
  if (!Array.isArray(json.weightsManifest)) throw new BackboneFilesError(`${where} has no weightsManifest`);
  for (const group of json.weightsManifest) {
    for (const shard of group.paths) {
      if (path.basename(shard) !== shard || shard.startsWith(".")) throw new BackboneFilesError(`${where} names a weight file outside its folder: ${shard}`);
    }
  }
  return json;
}

/** Every layer name in a layers-model topology (Sequential or functional, nested models included). */
export function topologyLayerNames(topology: unknown): string[] {
  const names: string[] = [];
  const visit = (node: unknown) => {
    if (Array.isArray(node)) node.forEach(visit);
    else if (node && typeof node === "object") {
      const obj = node as Record<string, unknown>;
      if (typeof obj.class_name === "string" && obj.config && typeof obj.config === "object") {
        const name = (obj.config as Record<string, unknown>).name;
        if (typeof name === "string") names.push(name);
      }
      for (const value of Object.values(obj)) visit(value);
    }
  };
  visit(topology);
  return names;
}

/** The shards' expected sizes: each group's bytes from the manifest, and the files it spans. */
function expectedGroups(json: ModelJson): Array<{ paths: string[]; bytes: number }> {
  return (json.weightsManifest ?? []).map((g) => ({ paths: g.paths, bytes: g.weights.reduce((s, w) => s + weightBytes(w), 0) }));
}

export function expectedWeightBytes(json: ModelJson): number {
  return expectedGroups(json).reduce((s, g) => s + g.bytes, 0);
}

/**
 * Checks the shards' sizes against the manifest: a group's shards together hold exactly its
 * weights' bytes (a truncated or padded download fails here, before tfjs reads garbage).
 */
export function checkShardSizes(json: ModelJson, sizeOf: (shard: string) => number | null, where: string): void {
  for (const group of expectedGroups(json)) {
    let total = 0;
    for (const shard of group.paths) {
      const size = sizeOf(shard);
      if (size === null) throw new BackboneFilesError(`${where}: weight file ${shard} is missing`);
      total += size;
    }
    if (total !== group.bytes) {
      throw new BackboneFilesError(
        `${where}: weight files ${group.paths.join(", ")} hold ${total} bytes but model.json's weightsManifest describes ${group.bytes}: the files are truncated or corrupt; delete them and download again`,
      );
    }
  }
}

export type ModelFiles = { json: ModelJson; shards: Map<string, Buffer>; modelJsonText: string };

/** Reads model.json and its shards from a folder and checks their sizes. */
export async function readModelFolder(folder: string): Promise<ModelFiles> {
  const file = path.join(folder, "model.json");
  let modelJsonText: string;
  try {
    modelJsonText = await fsp.readFile(file, "utf8");
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    throw new BackboneFilesError(code === "ENOENT" ? `${file} not found` : `cannot read ${file} (${code ?? String(err)})`);
  }
  const json = parseModelJson(modelJsonText, file);
  const shards = new Map<string, Buffer>();
  for (const group of json.weightsManifest ?? []) {
    for (const shard of group.paths) {
      try {
        shards.set(shard, await fsp.readFile(path.join(folder, shard)));
      } catch {
        // Reported by checkShardSizes as missing.
      }
    }
  }
  checkShardSizes(json, (s) => shards.get(s)?.length ?? null, folder);
  return { json, shards, modelJsonText };
}

/** A stable id of a model's bytes: sha256 over model.json and the shards in manifest order. */
export function filesHash(files: ModelFiles): string {
  const hash = crypto.createHash("sha256").update(files.modelJsonText);
  for (const group of files.json.weightsManifest ?? []) for (const shard of group.paths) hash.update(files.shards.get(shard) ?? Buffer.alloc(0));
  return hash.digest("hex");
}

async function fetchBytes(fetchImpl: FetchImpl, url: string, onChunk: (n: number) => void): Promise<Buffer> {
  const response = await fetchImpl(url);
  // Not BackboneFilesError: a failed request means the files cannot be had now, not that they are bad.
  if (!response.ok) throw new Error(`GET ${url} answered ${response.status} ${response.statusText}`);
  const declared = Number(response.headers.get("content-length") ?? NaN);
  const chunks: Buffer[] = [];
  if (response.body) {
    const reader = response.body.getReader();
    for (;;) {
      const { done, value } = await reader.read();
      if (done) break;
      chunks.push(Buffer.from(value));
      onChunk(value.length);
    }
  }
  const bytes = Buffer.concat(chunks);
  if (Number.isFinite(declared) && declared !== bytes.length) {
    throw new Error(`GET ${url} ended after ${bytes.length} of ${declared} bytes (connection cut): try again`);
  }
  return bytes;
}

/**
 * Downloads model.json and its shards (resolved relative to the model.json URL) into `dest`,
 * checking shard sizes, with progress in bytes (total = model.json + the manifest's weight bytes).
 * The files land in a temporary sibling folder that `verify` must accept before it is renamed to
 * `dest`; on any error nothing is left at `dest`.
 */
export async function downloadModel(opts: {
  url: string;
  dest: string;
  fetchImpl: FetchImpl;
  onProgress?: (p: DownloadProgress) => void;
  verify: (folder: string) => Promise<void>;
}): Promise<void> {
  const { url, dest, fetchImpl, onProgress } = opts;
  const temp = `${dest}.tmp-${process.pid}-${crypto.randomBytes(4).toString("hex")}`;
  await fsp.mkdir(temp, { recursive: true });
  try {
    let done = 0;
    let total = 0;
    const jsonBytes = await fetchBytes(fetchImpl, url, (n) => {
      done += n;
    });
    const json = parseModelJson(jsonBytes.toString("utf8"), url);
    total = done + expectedWeightBytes(json);
    onProgress?.({ bytesDone: done, bytesTotal: total, file: "model.json" });
    await fsp.writeFile(path.join(temp, "model.json"), jsonBytes);
    const sizes = new Map<string, number>();
    for (const group of json.weightsManifest ?? []) {
      for (const shard of group.paths) {
        const shardUrl = new URL(shard, url).toString();
        const bytes = await fetchBytes(fetchImpl, shardUrl, (n) => {
          done += n;
          onProgress?.({ bytesDone: Math.min(done, total), bytesTotal: total, file: shard });
        });
        sizes.set(shard, bytes.length);
        await fsp.writeFile(path.join(temp, shard), bytes);
      }
    }
    checkShardSizes(json, (s) => sizes.get(s) ?? null, url);
    await opts.verify(temp);
    await fsp.rm(dest, { recursive: true, force: true });
    await fsp.rename(temp, dest);
  } catch (err) {
    await fsp.rm(temp, { recursive: true, force: true });
    throw err;
  }
}
