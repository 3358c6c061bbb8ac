import fsp from "node:fs/promises";
import sharp, { type Metadata, type Sharp } from "sharp";
import { getEnv } from "@/lib/env";
import { exists, writeAtomically } from "./files";
import { thumbPath } from "./paths";

export type ImageFormat = "jpeg" | "png" | "webp" | "gif" | "tiff" | "avif";

export type ImageInfo = {
  format: ImageFormat;
  /** Size after EXIF orientation is applied (what the user sees). */
  width: number;
  height: number;
  channels: number;
};

export type InspectResult = { ok: true; info: ImageInfo } | { ok: false; reason: string };

const SUPPORTED = "JPEG, PNG, WebP, GIF, TIFF or AVIF";

/** Human form of a pixel count: "900 MP", or plain pixels for the tiny limits tests use. */
export function formatPixels(pixels: number): string {
  if (pixels >= 1_000_000) return `${Number((pixels / 1_000_000).toFixed(1))} MP`;
  return `${pixels} pixels`;
}

/**
 * The options every decode uses. failOn "truncated" rejects cut-off JPEGs and damaged PNG data
 * (measured: libvips' default "warning" level would also reject good files that carry mere
 * metadata warnings, and "none" silently accepts half images). pages: 1 reads only the first
 * frame of animated GIF/WebP.
 */
function open(file: string): Sharp {
  return sharp(file, { limitInputPixels: getEnv().FIXLABEL_MAX_IMAGE_PIXELS, failOn: "truncated", pages: 1 });
}

function formatOf(meta: Metadata): ImageFormat | { unsupported: string } {
  switch (meta.format) {
    case "jpeg":
    case "png":
    case "webp":
    case "gif":
    case "tiff":
      return meta.format;
    case "heif":
      // HEIF is a container: AV1 inside is AVIF (decodable); HEVC (iPhone HEIC) is not in sharp's build.
      return meta.compression === "av1" ? "avif" : { unsupported: "HEIC (HEVC-coded HEIF) images are not supported: convert them to JPEG" };
    case "svg":
      return { unsupported: "SVG is a vector format: export it as PNG first" };
    default:
      return { unsupported: `${String(meta.format).toUpperCase()} images are not supported (use ${SUPPORTED})` };
  }
}

/** Turns a libvips failure into a sentence a user can act on, keeping the library's words in brackets. */
function decodeFailureReason(err: unknown, head: Buffer): string {
  const message = err instanceof Error ? err.message : String(err);
  if (/unsupported image format/i.test(message)) {
    if (head.subarray(0, 2).toString("latin1") === "BM") return `BMP images are not supported by this server's image library (use ${SUPPORTED})`;
    return `not an image: the content is not ${SUPPORTED}`;
  }
  if (/pixel limit/i.test(message)) return `image is over the limit of ${formatPixels(getEnv().FIXLABEL_MAX_IMAGE_PIXELS)}`;
  return `the image data is damaged or truncated (${message})`;
}

async function readHead(file: string): Promise<Buffer> {
  const fh = await fsp.open(file, "r");
  try {
    const buf = Buffer.alloc(16);
    const { bytesRead } = await fh.read(buf, 0, buf.length, 0);
    return buf.subarray(0, bytesRead);
  } finally {
    await fh.close();
  }
}

function thumbnailPipeline(img: Sharp): Sharp {
  const size = getEnv().FIXLABEL_THUMB_SIZE;
  // rotate() with no angle applies the EXIF orientation, so thumbnails look like the photo did.
  return img.rotate().resize(size, size, { fit: "inside", withoutEnlargement: true }).webp({ quality: 80 });
}

/**
 * Validates an image file and makes its thumbnail in one decode: the header gives format, size and
 * orientation; decoding for the thumbnail (with the pixel limit) proves the pixel data is complete. If a thumbnail for
 * this content already exists, the same bytes were fully decoded before, so only the header is read.
 */
export async function inspectImage(file: string, sha256: string): Promise<InspectResult> {
  let meta: Metadata;
  try {
    // The header alone, without the pixel limit (some loaders apply it to the header already), so
    // an oversized image is reported with its size; the decode below still enforces the limit.
    meta = await sharp(file, { limitInputPixels: false, pages: 1 }).metadata();
  } catch (err) {
    return { ok: false, reason: decodeFailureReason(err, await readHead(file)) };
  }
  const format = formatOf(meta);
  if (typeof format === "object") return { ok: false, reason: format.unsupported };

  const width = meta.width;
  const height = meta.pageHeight ?? meta.height;
  const limit = getEnv().FIXLABEL_MAX_IMAGE_PIXELS;
  if (width * height > limit) {
    return {
      ok: false,
      reason: `image is ${width}x${height} = ${formatPixels(width * height)}, over the limit of ${formatPixels(limit)}`,
    };
  }

  const thumb = thumbPath(sha256);
  if (!(await exists(thumb))) {
    try {
      await writeAtomically(thumb, (temp) => thumbnailPipeline(open(file)).toFile(temp));
    } catch (err) {
      return { ok: false, reason: decodeFailureReason(err, await readHead(file)) };
    }
  }
  const oriented = meta.autoOrient ?? { width, height };
  return { ok: true, info: { format, width: oriented.width, height: oriented.height, channels: meta.channels } };
}

/** Re-makes the thumbnail of a stored original (after a crash or a thumbnail size change). */
export async function writeThumbnail(sourceFile: string, sha256: string): Promise<void> {
  await writeAtomically(thumbPath(sha256), (temp) => thumbnailPipeline(open(sourceFile)).toFile(temp));
}
