import { createHash, randomUUID } from "node:crypto";
import fs from "node:fs";
import fsp from "node:fs/promises";
import path from "node:path";
import { pipeline } from "node:stream/promises";
import { stagingDir } from "./paths";

/** A name next to `dest` for a temp file; same folder, so the final rename stays on one filesystem. */
function tempNameBeside(dest: string): string {
  return path.join(path.dirname(dest), `.tmp-${process.pid}-${randomUUID()}`);
}

/**
 * Writes a file by letting `write` fill a temp file beside `dest`, then renaming it into place.
 * rename() is atomic, so a killed process leaves at worst a stray .tmp-* file, never a half file
 * under the final name.
 */
export async function writeAtomically(dest: string, write: (tempPath: string) => Promise<unknown>): Promise<void> {
  await fsp.mkdir(path.dirname(dest), { recursive: true });
  const temp = tempNameBeside(dest);
  try {
    await write(temp);
    await fsp.rename(temp, dest);
  } catch (err) {
    await removeQuietly(temp);
    throw err;
  }
}

export async function copyFileAtomically(src: string, dest: string): Promise<void> {
  await writeAtomically(dest, (temp) => fsp.copyFile(src, temp));
}

export async function exists(file: string): Promise<boolean> {
  try {
    await fsp.access(file);
    return true;
  } catch {
    return false;
  }
}

export async function removeQuietly(file: string): Promise<void> {
  await fsp.rm(file, { force: true, recursive: true }).catch(() => undefined);
}

/** SHA-256 of a file, read as a stream so large files never sit in memory. */
export async function hashFile(file: string): Promise<string> {
  const hash = createHash("sha256");
  await pipeline(fs.createReadStream(file), hash);
  return hash.digest("hex");
}

/**
 * A fresh path in the staging folder. The name is generated (plus an optional fixed extension such
 * as ".zip"): a name sent by a client or stored in an archive never becomes a path on disk.
 */
export async function newStagingPath(extension: "" | ".zip" = ""): Promise<string> {
  const dir = stagingDir();
  await fsp.mkdir(dir, { recursive: true });
  return path.join(dir, `${randomUUID()}${extension}`);
}
