import path from "node:path";
import { getEnv } from "@/lib/env";
import { AppError, badRequest } from "@/lib/errors";

/**
 * Where FixLabel keeps files, all below the data folder:
 *   blobs/<aa>/<bb>/<sha256>     original bytes, content-addressed, never modified
 *   thumbs/<aa>/<sha256>.webp    thumbnails (EXIF orientation applied)
 *   staging/                     uploads and archive entries in flight
 * Every path is built from a validated sha256 or a generated name, never from a user's file name,
 * and checked to resolve inside the data folder (the image-serving route relies on this).
 */

const SHA256 = /^[0-9a-f]{64}$/;

export const THUMB_FORMAT = "webp";
export const THUMB_CONTENT_TYPE = "image/webp";

export function isSha256(value: string): boolean {
  return SHA256.test(value);
}

/** True when `target` is `root` itself or below it (both resolved; no symlink resolution). */
export function isInside(root: string, target: string): boolean {
  const rel = path.relative(path.resolve(root), path.resolve(target));
  return rel === "" || (!rel.startsWith("..") && !path.isAbsolute(rel));
}

function insideDataDir(...parts: string[]): string {
  const dataDir = getEnv().dataDir;
  const full = path.resolve(dataDir, ...parts);
  // Unreachable with a validated hash; kept so a future caller cannot turn this into a path escape.
  if (!isInside(dataDir, full)) throw new AppError("forbidden", "path escapes the data folder");
  return full;
}

function assertSha256(sha256: string): void {
  if (!isSha256(sha256)) throw badRequest("not a sha256 content address (64 lowercase hex characters)");
}

export function blobPath(sha256: string): string {
  assertSha256(sha256);
  return insideDataDir("blobs", sha256.slice(0, 2), sha256.slice(2, 4), sha256);
}

export function thumbPath(sha256: string): string {
  assertSha256(sha256);
  return insideDataDir("thumbs", sha256.slice(0, 2), `${sha256}.${THUMB_FORMAT}`);
}

export function stagingDir(): string {
  return insideDataDir("staging");
}
