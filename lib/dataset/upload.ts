import fsp from "node:fs/promises";
import { Readable, Transform } from "node:stream";
import { pipeline } from "node:stream/promises";
import type { ReadableStream as WebReadableStream } from "node:stream/web";
import busboy from "busboy";
import type { Db } from "@/lib/db/client";
import { getEnv } from "@/lib/env";
import { AppError, badRequest } from "@/lib/errors";
import { enqueueJob } from "@/lib/jobs";
import { newStagingPath, removeQuietly } from "@/lib/storage";
import { fileTooLargeReason, ImportBatch, ingestFile } from "./ingest";
import { splitClientPath, uploadFolderLabel } from "./names";

export type UploadResult = {
  added: { id: number; name: string }[];
  duplicates: { name: string; imageId: number }[];
  rejected: { name: string; reason: string }[];
  /** Archives are imported by the worker: one "import.zip" job each. */
  jobs: { id: number; name: string }[];
  labeled: number;
  classesCreated: string[];
};

/**
 * Streams `source` into `dest`, keeping at most `cap` bytes. Past the cap the rest is read and
 * dropped (the multipart stream must be drained to reach the next file). Returns whether it was cut.
 */
async function writeCapped(source: Readable, dest: string, cap: number): Promise<boolean> {
  let bytes = 0;
  let over = false;
  const limiter = new Transform({
    transform(chunk: Buffer, _encoding, callback) {
      bytes += chunk.length;
      if (bytes > cap) over = true;
      callback(null, over ? undefined : chunk);
    },
  });
  // The file is created before anything streams: a stream that opens it lazily can still create it
  // after a broken-off upload's clean-up ran, leaving it behind in staging.
  const file = await fsp.open(dest, "w");
  await pipeline(source, limiter, file.createWriteStream());
  return over;
}

function archiveTooLargeReason(): string {
  const gib = Number((getEnv().FIXLABEL_ZIP_MAX_BYTES / 1024 ** 3).toFixed(1));
  return `the archive is larger than the limit of ${gib} GiB (FIXLABEL_ZIP_MAX_BYTES)`;
}

export type ReceiveUploadOptions = {
  projectId: number;
  contentType: string | null;
  body: ReadableStream<Uint8Array> | null;
  actor: string;
};

/**
 * Receives a multipart/form-data upload of images (and .zip archives) without holding any file in
 * memory: each file part streams into its own staging file (generated name, byte cap), then is
 * ingested while the next part is still arriving. A .zip part is left in staging and handed to the
 * worker as an "import.zip" job.
 *
 * The client sends `file.webkitRelativePath || file.name` as each part's filename, so a folder
 * upload keeps its folder as sourcePath. With the form field labelsFromFolders=1 sent BEFORE the
 * files, images also take their parent folder as label (see uploadFolderLabel).
 */
export async function receiveUpload(db: Db, opts: ReceiveUploadOptions): Promise<UploadResult> {
  if (!opts.contentType?.toLowerCase().startsWith("multipart/form-data")) {
    throw new AppError("unsupported_media", "send the files as multipart/form-data");
  }
  if (!opts.body) throw badRequest("the request has no body");
  const env = getEnv();
  let parser: busboy.Busboy;
  try {
    // preservePath keeps "folder/sub/file.jpg"; defParamCharset utf8 because browsers send
    // non-ASCII file names as raw UTF-8 (busboy's default, latin1, would garble them).
    parser = busboy({
      headers: { "content-type": opts.contentType },
      preservePath: true,
      defParamCharset: "utf8",
      limits: { fields: 20, fieldSize: 1024 },
    });
  } catch (err) {
    throw badRequest(`malformed multipart request (${err instanceof Error ? err.message : String(err)})`);
  }

  const result: UploadResult = { added: [], duplicates: [], rejected: [], jobs: [], labeled: 0, classesCreated: [] };
  const batch = new ImportBatch(db, opts.projectId, opts.actor);
  const staged: string[] = [];
  const parts: Promise<void>[] = [];
  // Ingests one file at a time, in arrival order, overlapping with the upload of the next part.
  let ingestQueue: Promise<void> = Promise.resolve();
  let labelsFromFolders = false;

  const receivePart = async (stream: Readable, filename: string) => {
    const { folders, name } = splitClientPath(filename);
    const display = [...folders, name].join("/");
    const isZip = name.toLowerCase().endsWith(".zip");
    const temp = await newStagingPath(isZip ? ".zip" : "");
    staged.push(temp);
    const cut = await writeCapped(stream, temp, isZip ? env.FIXLABEL_ZIP_MAX_BYTES : env.FIXLABEL_MAX_FILE_BYTES);
    if (cut) {
      result.rejected.push({ name: display, reason: isZip ? archiveTooLargeReason() : fileTooLargeReason(null) });
      return;
    }
    if (isZip) {
      const job = enqueueJob(db, "import.zip", { projectId: opts.projectId, zipPath: temp, originalName: name, deleteAfter: true });
      staged.splice(staged.indexOf(temp), 1); // the job owns it now
      result.jobs.push({ id: job.id, name: display });
      return;
    }
    const label = labelsFromFolders ? uploadFolderLabel(folders) : null;
    const turn = ingestQueue.then(async () => {
      const r = await ingestFile(db, {
        projectId: opts.projectId,
        filePath: temp,
        originalName: name,
        sourcePath: folders.join("/"),
        label,
        actor: opts.actor,
        batch,
      });
      if (r.status === "added") result.added.push({ id: r.imageId, name: display });
      else if (r.status === "duplicate") result.duplicates.push({ name: display, imageId: r.imageId });
      else result.rejected.push({ name: display, reason: r.reason });
      await removeQuietly(temp);
    });
    ingestQueue = turn.catch(() => undefined);
    await turn;
  };

  parser.on("field", (name, value) => {
    if (name === "labelsFromFolders") labelsFromFolders = value === "1" || value === "true";
  });
  parser.on("file", (_field, stream, info) => {
    // busboy destroys the part's stream with an error when the upload breaks off, possibly before
    // receivePart has piped it anywhere; this listener keeps that from crashing the process (the
    // pipeline in writeCapped still sees the error and rejects).
    stream.on("error", () => undefined);
    const part = receivePart(stream, info.filename ?? "unnamed");
    part.catch(() => undefined); // awaited below, after the body has been read
    parts.push(part);
  });

  try {
    try {
      await pipeline(Readable.fromWeb(opts.body as WebReadableStream<Uint8Array>), parser);
    } catch (err) {
      throw badRequest(`the upload was interrupted or malformed (${err instanceof Error ? err.message : String(err)})`);
    }
    const settled = await Promise.allSettled(parts);
    const failed = settled.find((s): s is PromiseRejectedResult => s.status === "rejected");
    if (failed) throw failed.reason;
  } finally {
    await Promise.allSettled(parts);
    await Promise.all(staged.map(removeQuietly));
  }
  batch.dropUnusedClasses();
  result.labeled = batch.labeled;
  result.classesCreated = batch.classesCreated;
  return result;
}
