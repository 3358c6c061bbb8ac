/**
 * Backbones as the web app sees them (no tfjs here: the worker loads them, lib/ml/backbones):
 *   - the request schema of a run's backbone choice, and its checks (a server folder must lie
 *     inside FIXLABEL_IMPORT_ROOT; an upload must exist);
 *   - whether ImageNet MobileNetV2 is available (downloaded, or its URL answers from here), so the
 *     train panel can default to it, or say why not and what it trains instead;
 *   - storing an uploaded zip's model files under <dataDir>/backbones/uploaded-<hash>/.
 */
import crypto from "node:crypto";
import fs from "node:fs";
import fsp from "node:fs/promises";
import path from "node:path";
import { Transform } from "node:stream";
import { pipeline } from "node:stream/promises";
import type { ReadableStream as WebReadableStream } from "node:stream/web";
import { Readable } from "node:stream";
import yauzl from "yauzl";
import { z } from "zod";
import { openZip, readEntries, unsafePathReason } from "@/lib/dataset/zip";
import { resolveImportFolder } from "@/lib/dataset/folder";
import { getEnv } from "@/lib/env";
import { AppError, badRequest } from "@/lib/errors";
import { BackboneFilesError, filesHash, readModelFolder, topologyLayerNames } from "@/lib/ml/backbones/files";
import { backboneFolder, backbonesDir, isUploaded, isUrl, MOBILENET_V2_PREPROCESSING, mobileNetV2Url, UPLOADED_PREFIX } from "@/lib/ml/backbones/sources";
import { MOBILENET_V2_ALPHAS, type BackboneRef, type MobileNetV2Alpha } from "@/lib/ml/backbones/types";
import { newStagingPath, removeQuietly } from "@/lib/storage";

export const backboneRefInput = z.discriminatedUnion("kind", [
  z.object({ kind: z.literal("mobilenet-v2"), alpha: z.enum(MOBILENET_V2_ALPHAS) }).strict(),
  z
    .object({
      kind: z.literal("custom"),
      /** A folder on the server (inside FIXLABEL_IMPORT_ROOT), an http(s) model.json URL, or an upload's "uploaded-<hash>". */
      source: z.string().trim().min(1).max(2000),
      cutLayer: z.string().trim().min(1).max(200),
      preprocessing: z
        .object({
          inputSize: z.number().int().min(8).max(512),
          channels: z.union([z.literal(1), z.literal(3)]),
          scale: z.number().positive().max(10),
          offset: z.number().min(-10).max(10),
        })
        .strict()
        .default(MOBILENET_V2_PREPROCESSING),
    })
    .strict(),
]);

export const BACKBONE_MODES = ["frozen", "finetune"] as const;

/**
 * Checks a run's backbone before it is queued, so a bad choice is a 400 now, not a failed run
 * later: a folder must be inside FIXLABEL_IMPORT_ROOT (returned as its real path, which the worker
 * reads), an upload must exist. A URL is fetched by the worker (its errors show on the run).
 */
export async function checkBackboneRef(ref: BackboneRef | null | undefined): Promise<BackboneRef | null | undefined> {
  if (!ref || ref.kind === "mobilenet-v2") return ref;
  if (isUrl(ref.source)) return ref;
  const dataDir = getEnv().dataDir;
  if (isUploaded(ref.source)) {
    const folder = backboneFolder(ref, dataDir);
    if (!fs.existsSync(path.join(folder, "model.json"))) throw badRequest(`uploaded backbone ${ref.source} not found: upload its zip again`, { field: "backbone" });
    return ref;
  }
  const { folder } = await resolveImportFolder(ref.source);
  if (!fs.existsSync(path.join(folder, "model.json"))) throw badRequest(`${ref.source} has no model.json (a TensorFlow.js layers model's folder)`, { field: "backbone" });
  return { ...ref, source: folder };
}

// ---- availability of the default ------------------------------------------------------------------

export type MobileNetAvailability = {
  alpha: MobileNetV2Alpha;
  url: string;
  folder: string;
  /** The files are downloaded (or were put there by hand). */
  cached: boolean;
  /** Not cached, but the URL answered from this server (so the worker can download it). */
  downloadable: boolean;
  available: boolean;
  /** Why it is not available, or null. */
  reason: string | null;
};

const REACHABILITY_TTL_MS = 60_000;
let reachability: { at: number; url: string; ok: boolean; why: string | null } | null = null;

async function checkReachable(url: string, fetchImpl: typeof fetch): Promise<{ ok: boolean; why: string | null }> {
  if (reachability && reachability.url === url && Date.now() - reachability.at < REACHABILITY_TTL_MS) return reachability;
  let result: { ok: boolean; why: string | null };
  try {
    const res = await fetchImpl(url, { method: "HEAD", signal: AbortSignal.timeout(4000) });
    result = res.ok ? { ok: true, why: null } : { ok: false, why: `${url} answered ${res.status}` };
  } catch (err) {
    const cause = err instanceof Error && err.cause instanceof Error ? err.cause.message : err instanceof Error ? err.message : String(err);
    result = { ok: false, why: `cannot reach ${url} from this server (${cause})` };
  }
  reachability = { at: Date.now(), url, ...result };
  return result;
}

/** Whether ImageNet MobileNetV2 (alpha) can be used now: downloaded, or downloadable from here. */
export async function mobileNetAvailability(alpha: MobileNetV2Alpha = "1.00", fetchImpl: typeof fetch = fetch): Promise<MobileNetAvailability> {
  const ref: BackboneRef = { kind: "mobilenet-v2", alpha };
  const folder = backboneFolder(ref, getEnv().dataDir);
  const url = mobileNetV2Url(alpha);
  const cached = fs.existsSync(path.join(folder, "model.json"));
  if (cached) return { alpha, url, folder, cached, downloadable: false, available: true, reason: null };
  const { ok, why } = await checkReachable(url, fetchImpl);
  return {
    alpha,
    url,
    folder,
    cached,
    downloadable: ok,
    available: ok,
    reason: ok
      ? null
      : `not downloaded, and ${why}. Put its files in ${folder} (on a connected machine: npm run backbone:fetch -- --alpha ${alpha}, then copy the folder).`,
  };
}

// ---- uploaded zips --------------------------------------------------------------------------------

export type UploadedBackbone = {
  /** The ref's `source` for this upload. */
  source: string;
  files: string[];
  /** Every layer name, in topology order: the choices of the cut layer. */
  layers: string[];
  /** The model's input shape, when the topology says it. */
  inputShape: (number | null)[] | null;
};

const MODEL_FILE = /(^|\/)(model\.json|[^/]+\.bin)$/;

function inputShapeOf(topology: unknown): (number | null)[] | null {
  const text = JSON.stringify(topology);
  const m = /"batch_input_shape":\s*(\[[^\]]*\])/.exec(text);
  return m ? (JSON.parse(m[1]) as (number | null)[]) : null;
}

/**
 * Stores the model files of a zip (model.json and its .bin shards, in one folder of the archive)
 * under <dataDir>/backbones/uploaded-<hash>/, after checking them (shard sizes against the
 * manifest). The archive's names never become paths; the zip-safety rules of lib/dataset/zip.ts
 * apply (entry names that climb out are refused, sizes are capped while inflating).
 */
export async function storeUploadedBackbone(zipPath: string): Promise<UploadedBackbone> {
  const env = getEnv();
  let zip: yauzl.ZipFile;
  try {
    zip = await openZip(zipPath);
  } catch (err) {
    throw badRequest(`not a readable zip archive (${err instanceof Error ? err.message : String(err)})`);
  }
  const temp = path.join(backbonesDir(env.dataDir), `.upload-${crypto.randomBytes(6).toString("hex")}`);
  try {
    if (zip.entryCount > env.FIXLABEL_ZIP_MAX_ENTRIES) throw badRequest(`the archive has ${zip.entryCount} entries, over FIXLABEL_ZIP_MAX_ENTRIES`);
    // openZip leaves names undecoded (see lib/dataset/zip.ts): decode each, "\\" as "/".
    const entries = (await readEntries(zip))
      .map((entry) => ({ entry, name: yauzl.getFileNameLowLevel(entry.generalPurposeBitFlag, entry.fileNameRaw, entry.extraFields, false).replaceAll("\\", "/") }))
      .filter((e) => !e.name.endsWith("/"));
    for (const e of entries) {
      const unsafe = unsafePathReason(e.name);
      if (unsafe) throw badRequest(`${e.name}: ${unsafe}`);
    }
    const jsons = entries.filter((e) => /(^|\/)model\.json$/.test(e.name) && !e.name.split("/").some((s) => s.startsWith(".") || s === "__MACOSX"));
    if (jsons.length !== 1) throw badRequest(jsons.length === 0 ? "the zip has no model.json (a TensorFlow.js layers model)" : `the zip has ${jsons.length} model.json files: zip one model`);
    const dir = path.posix.dirname(jsons[0].name);
    const inDir = entries.filter((e) => path.posix.dirname(e.name) === dir && MODEL_FILE.test(e.name));
    await fsp.mkdir(temp, { recursive: true });
    let inflated = 0;
    for (const { entry, name } of inDir) {
      if (inflated + entry.uncompressedSize > env.FIXLABEL_ZIP_MAX_BYTES) throw new AppError("payload_too_large", "the model files inflate past FIXLABEL_ZIP_MAX_BYTES");
      const meter = new Transform({
        transform(chunk: Buffer, _enc, callback) {
          inflated += chunk.length;
          if (inflated > env.FIXLABEL_ZIP_MAX_BYTES) return callback(new AppError("payload_too_large", "the model files inflate past FIXLABEL_ZIP_MAX_BYTES"));
          callback(null, chunk);
        },
      });
      // The file name is the entry's base name, already limited to model.json / *.bin above.
      await pipeline(await zip.openReadStreamPromise(entry), meter, fs.createWriteStream(path.join(temp, path.posix.basename(name))));
    }
    let files;
    try {
      files = await readModelFolder(temp);
    } catch (err) {
      if (err instanceof BackboneFilesError) throw badRequest(err.message.replaceAll(temp, "the zip"));
      throw err;
    }
    const source = `${UPLOADED_PREFIX}${filesHash(files).slice(0, 16)}`;
    const dest = path.join(backbonesDir(env.dataDir), source);
    if (fs.existsSync(dest)) await fsp.rm(temp, { recursive: true, force: true });
    else await fsp.rename(temp, dest);
    const names = ["model.json", ...(files.json.weightsManifest ?? []).flatMap((g) => g.paths)];
    return { source, files: names, layers: topologyLayerNames(files.json.modelTopology), inputShape: inputShapeOf(files.json.modelTopology) };
  } finally {
    zip.close();
    await fsp.rm(temp, { recursive: true, force: true });
  }
}

/** Streams a request body (a zip) into staging with a byte cap, stores its model files, removes the zip. */
export async function receiveBackboneZip(body: ReadableStream<Uint8Array> | null): Promise<UploadedBackbone> {
  if (!body) throw badRequest("send the zip as the request body");
  const cap = getEnv().FIXLABEL_ZIP_MAX_BYTES;
  const staged = await newStagingPath(".zip");
  try {
    let bytes = 0;
    const limiter = new Transform({
      transform(chunk: Buffer, _enc, callback) {
        bytes += chunk.length;
        if (bytes > cap) return callback(new AppError("payload_too_large", "the zip is larger than FIXLABEL_ZIP_MAX_BYTES"));
        callback(null, chunk);
      },
    });
    await pipeline(Readable.fromWeb(body as WebReadableStream<Uint8Array>), limiter, fs.createWriteStream(staged));
    return await storeUploadedBackbone(staged);
  } finally {
    await removeQuietly(staged);
  }
}
