/**
 * The decoded pixel cache: each original is decoded by sharp once per (project, size, channels)
 * and kept as raw uint8 frames, so the training loop never touches a JPEG.
 *
 *   <dataDir>/cache/<projectId>/<size>-<channels>.u8    frame after frame, size*size*channels bytes each
 *   <dataDir>/cache/<projectId>/<size>-<channels>.json  the image id of each frame, in order
 *
 * New images are appended. The frames are written before the index, so a process killed between
 * the two leaves extra bytes at the end, which the next update cuts off. One writer per project at
 * a time (the worker runs one training job per project).
 */
import fs from "node:fs";
import fsp from "node:fs/promises";
import path from "node:path";
import sharp from "sharp";
import { writeAtomically } from "@/lib/storage";

export type Channels = 1 | 3;

export type PixelCache = {
  size: number;
  channels: Channels;
  /** The image id of each frame. */
  ids: number[];
  /** All frames, back to back. */
  pixels: Uint8Array;
  /** Frame number of an image id. */
  frameOf: Map<number, number>;
};

export type PixelSource = { id: number; file: string };

export type Decoder = (file: string, size: number, channels: Channels) => Promise<Uint8Array>;

/**
 * EXIF orientation applied, stretched to size x size (the whole image kept, as torchvision's
 * Resize((s, s))), transparency flattened onto white, then gray or sRGB. Takes a file or the bytes
 * of one: single-image prediction (predict-image.ts) decodes an upload with this very function, so
 * it sees exactly the pixels training saw.
 */
export async function decodeImage(input: string | Buffer, size: number, channels: Channels): Promise<Uint8Array> {
  const file = typeof input === "string" ? input : "the image";
  let pipeline = sharp(input).rotate().resize(size, size, { fit: "fill" }).flatten({ background: "#ffffff" });
  pipeline = channels === 1 ? pipeline.grayscale() : pipeline.toColourspace("srgb");
  const { data, info } = await pipeline.raw().toBuffer({ resolveWithObject: true });
  if (info.channels !== channels || data.length !== size * size * channels) {
    throw new Error(`decoding ${file} gave ${info.width}x${info.height}x${info.channels}, expected ${size}x${size}x${channels}`);
  }
  return new Uint8Array(data.buffer, data.byteOffset, data.length);
}

export const decodeForTraining: Decoder = (file, size, channels) => decodeImage(file, size, channels);

export function pixelCacheFiles(dataDir: string, projectId: number, size: number, channels: Channels) {
  const base = path.join(dataDir, "cache", String(projectId), `${size}-${channels}`);
  return { frames: `${base}.u8`, index: `${base}.json` };
}

async function readIndex(file: string): Promise<number[]> {
  try {
    return JSON.parse(await fsp.readFile(file, "utf8")) as number[];
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === "ENOENT") return [];
    throw err;
  }
}

export type UpdatePixelCacheOptions = {
  files: { frames: string; index: string };
  size: number;
  channels: Channels;
  /** Every image the caller needs; those not cached yet are decoded and appended. */
  images: readonly PixelSource[];
  decode?: Decoder;
  /** Called after each appended chunk with (cached so far, needed in all). */
  onProgress?: (done: number, total: number) => void;
};

/** Images decoded between two index writes: bounds the work a crash can lose. */
const CHUNK = 256;

export async function updatePixelCache(opts: UpdatePixelCacheOptions): Promise<PixelCache> {
  const { files, size, channels, images, decode = decodeForTraining } = opts;
  const frameBytes = size * size * channels;
  await fsp.mkdir(path.dirname(files.frames), { recursive: true });

  let ids = await readIndex(files.index);
  const bytesOnDisk = fs.existsSync(files.frames) ? (await fsp.stat(files.frames)).size : 0;
  ids = ids.slice(0, Math.floor(bytesOnDisk / frameBytes));
  await fsp.writeFile(files.frames, new Uint8Array(0), { flag: "a" });
  await fsp.truncate(files.frames, ids.length * frameBytes);

  const known = new Set(ids);
  const missing = images.filter((img) => !known.has(img.id));
  for (let start = 0; start < missing.length; start += CHUNK) {
    const chunk = missing.slice(start, start + CHUNK);
    const frames: Uint8Array[] = [];
    for (const img of chunk) frames.push(await decode(img.file, size, channels));
    await fsp.appendFile(files.frames, Buffer.concat(frames));
    ids = [...ids, ...chunk.map((img) => img.id)];
    await writeAtomically(files.index, (temp) => fsp.writeFile(temp, JSON.stringify(ids)));
    opts.onProgress?.(images.length - missing.length + start + chunk.length, images.length);
  }

  const buffer = await fsp.readFile(files.frames);
  return {
    size,
    channels,
    ids,
    pixels: new Uint8Array(buffer.buffer, buffer.byteOffset, buffer.length),
    frameOf: new Map(ids.map((id, frame) => [id, frame])),
  };
}
