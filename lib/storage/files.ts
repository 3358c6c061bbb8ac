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
 * Who a staging file belongs to, written into its name so that a start-up or a lease takeover can
 * tell leftovers (a killed process, an earlier attempt of a job) from files in use:
 *   p<pid>-<uuid>         a request or command of process <pid> (dead process: a leftover)
 *   j<job>a<attempt>-<uuid>  attempt <attempt> of job <job> (an earlier attempt: a leftover)
 * An archive handed to an import.zip job is owned by that job from then on (its payload names it).
 */
export type StagingOwner = { kind: "process"; pid: number } | { kind: "job"; jobId: number; attempt: number };

export function stagingPrefix(owner: StagingOwner): string {
  return owner.kind === "process" ? `p${owner.pid}` : `j${owner.jobId}a${owner.attempt}`;
}

/** The owner a staging file's name records, or null for a name in no known form. */
export function stagingOwnerOf(fileName: string): StagingOwner | null {
  const m = /^(?:p(\d+)|j(\d+)a(\d+))-[0-9a-f-]{36}(?:\.zip)?$/.exec(fileName);
  if (!m) return null;
  return m[1] !== undefined ? { kind: "process", pid: Number(m[1]) } : { kind: "job", jobId: Number(m[2]), attempt: Number(m[3]) };
}

/**
 * A fresh path in the staging folder. The name is generated (its owner, a uuid and an optional
 * fixed extension such as ".zip"): a name sent by a client or stored in an archive never becomes a
 * path on disk. Without an owner, this process owns it.
 */
export async function newStagingPath(extension: "" | ".zip" = "", owner: StagingOwner = { kind: "process", pid: process.pid }): Promise<string> {
  const dir = stagingDir();
  await fsp.mkdir(dir, { recursive: true });
  return path.join(dir, `${stagingPrefix(owner)}-${randomUUID()}${extension}`);
}
