import fs from "node:fs";
import { Transform } from "node:stream";
import { pipeline } from "node:stream/promises";
import yauzl from "yauzl";
import type { Db } from "@/lib/db/client";
import { getImageCreatedAt } from "@/lib/db/queries/images";
import { getEnv } from "@/lib/env";
import { newStagingPath, removeQuietly, type StagingOwner } from "@/lib/storage";
import { fileTooLargeReason, ImportBatch, ingestFile, type IngestResult } from "./ingest";
import { hasImageExtension, imageFolderLabels, isHiddenPath, sanitizeName } from "./names";
import { ReportBuilder, type ImportReport } from "./report";
import { runImportTasks, type OnProgress } from "./run";

export type ImportZipOptions = {
  projectId: number;
  zipPath: string;
  actor: string;
  onProgress?: OnProgress;
  /** Whose the entries' temp files are (the job attempt), so a takeover can tell leftovers. */
  stagingOwner?: StagingOwner;
  /**
   * A re-run of the same import (its job was taken over after a crash) passes when the import
   * first started: an image of this project created since then, found again as a "duplicate", was
   * added by this import's own earlier attempt and is counted as added (once), not as a duplicate.
   */
  earlierAttemptSince?: number;
};

type Candidate = { entry: yauzl.Entry; displayName: string; folders: string[]; fileName: string };

class ArchiveLimitError extends Error {}
class EntryTooLargeError extends Error {}

function formatGiB(bytes: number): string {
  return bytes >= 1024 ** 3 ? `${Number((bytes / 1024 ** 3).toFixed(1))} GiB` : `${Number((bytes / 1024 ** 2).toFixed(1))} MiB`;
}

/**
 * Why an entry name is unsafe, or null. Names are never used as paths on disk (entries are
 * extracted to generated staging names), but an entry that tries to climb out ("../x", "/etc/x",
 * "C:\x", "\\server\x") is hostile or broken and is refused rather than silently renamed.
 * Backslashes were already turned into "/" (old Windows zippers use them as separators).
 */
export function unsafePathReason(name: string): string | null {
  if (name.startsWith("/")) return "absolute path in the archive";
  if (/^[a-zA-Z]:/.test(name)) return "drive letter in the archive path";
  if (name.split("/").includes("..")) return "the archive path climbs out of the archive (..)";
  if (name.includes("\u0000")) return "NUL character in the archive path";
  return null;
}

export function openZip(zipPath: string): Promise<yauzl.ZipFile> {
  return new Promise((resolve, reject) =>
    // decodeStrings: false, because yauzl's own name check aborts the WHOLE archive on one bad
    // entry; we decode names ourselves and refuse bad entries one by one.
    yauzl.open(zipPath, { lazyEntries: true, autoClose: false, decodeStrings: false, validateEntrySizes: true }, (err, zip) =>
      err ? reject(err) : resolve(zip),
    ),
  );
}

/** Reads the central directory (names and sizes only, no file data). */
export function readEntries(zip: yauzl.ZipFile): Promise<yauzl.Entry[]> {
  return new Promise((resolve, reject) => {
    const entries: yauzl.Entry[] = [];
    zip.on("entry", (entry: yauzl.Entry) => {
      entries.push(entry);
      zip.readEntry();
    });
    zip.once("end", () => resolve(entries));
    zip.once("error", reject);
    zip.readEntry();
  });
}

/**
 * Imports the images of a .zip on disk into a project. Streaming with yauzl: one entry at a time
 * per worker is inflated into a staging file with a generated name, ingested, then deleted.
 *
 * Zip-bomb defences: the entry count (known from the central directory) is checked before anything
 * is read; every inflated byte is counted as it streams, across all entries, against
 * FIXLABEL_ZIP_MAX_BYTES (declared sizes can lie, so they only serve for an early stop), and each
 * entry against FIXLABEL_MAX_FILE_BYTES. A hit stops the import with `stopped` saying why; images
 * imported before that stay.
 * Labels follow the ImageFolder rule in names.ts (imageFolderLabels).
 */
export async function importZip(db: Db, opts: ImportZipOptions): Promise<ImportReport> {
  const env = getEnv();
  const builder = new ReportBuilder();
  const report = builder.report;

  let zip: yauzl.ZipFile;
  try {
    zip = await openZip(opts.zipPath);
  } catch (err) {
    builder.stop(`not a readable zip archive (${err instanceof Error ? err.message : String(err)})`);
    return report;
  }
  try {
    if (zip.entryCount > env.FIXLABEL_ZIP_MAX_ENTRIES) {
      builder.stop(
        `the archive has ${zip.entryCount.toLocaleString("en-US")} entries, over the limit of ${env.FIXLABEL_ZIP_MAX_ENTRIES.toLocaleString("en-US")} (FIXLABEL_ZIP_MAX_ENTRIES): nothing was imported`,
      );
      return report;
    }
    let entries: yauzl.Entry[];
    try {
      entries = await readEntries(zip);
    } catch (err) {
      builder.stop(`the archive's directory is damaged (${err instanceof Error ? err.message : String(err)})`);
      return report;
    }

    const candidates: Candidate[] = [];
    for (const entry of entries) {
      const rawName = yauzl.getFileNameLowLevel(entry.generalPurposeBitFlag, entry.fileNameRaw, entry.extraFields, false);
      if (rawName.endsWith("/")) continue; // a directory
      const displayName = sanitizeName(rawName);
      const unsafe = unsafePathReason(rawName);
      if (unsafe) {
        builder.reject(displayName, unsafe);
        continue;
      }
      const segments = rawName.split("/").filter((s) => s !== "" && s !== ".");
      const fileName = segments.pop() ?? "";
      if (isHiddenPath([...segments, fileName]) || !hasImageExtension(fileName)) {
        report.skipped++;
        continue;
      }
      if (entry.isEncrypted()) {
        builder.reject(displayName, "encrypted (password-protected) entries are not supported");
        continue;
      }
      candidates.push({ entry, displayName, folders: segments.map(sanitizeName), fileName });
    }
    report.total = candidates.length;

    const labels = imageFolderLabels(candidates.map((c) => c.folders));
    const labelOf = new Map(candidates.map((c, i) => [c, labels[i]]));
    const batch = new ImportBatch(db, opts.projectId, opts.actor);
    batch.prepareClasses(labels);
    const credited = new Set<number>();
    const creditEarlierAttempt = (result: IngestResult): IngestResult => {
      if (opts.earlierAttemptSince === undefined || result.status === "rejected") return result;
      // Each image of the archive counts as added at most once, whichever of its copies finished first.
      if (credited.has(result.imageId)) return result.status === "added" ? { status: "duplicate", imageId: result.imageId, originalName: "" } : result;
      if (result.status === "added") {
        credited.add(result.imageId);
        return result;
      }
      const created = getImageCreatedAt(db, result.imageId);
      if (created === null || created < opts.earlierAttemptSince) return result;
      credited.add(result.imageId);
      return { status: "added", imageId: result.imageId };
    };
    const bombReason = `the archive inflates to more than ${formatGiB(env.FIXLABEL_ZIP_MAX_BYTES)} (FIXLABEL_ZIP_MAX_BYTES): import stopped`;
    let inflated = 0;

    await runImportTasks(candidates, builder, opts.onProgress, async (c) => {
      if (c.entry.uncompressedSize > env.FIXLABEL_MAX_FILE_BYTES) {
        builder.reject(c.displayName, fileTooLargeReason(c.entry.uncompressedSize));
        return;
      }
      if (inflated + c.entry.uncompressedSize > env.FIXLABEL_ZIP_MAX_BYTES) {
        builder.stop(bombReason);
        return;
      }
      const temp = await newStagingPath("", opts.stagingOwner);
      try {
        let entryBytes = 0;
        const meter = new Transform({
          transform(chunk: Buffer, _enc, callback) {
            entryBytes += chunk.length;
            inflated += chunk.length;
            if (inflated > env.FIXLABEL_ZIP_MAX_BYTES) return callback(new ArchiveLimitError(bombReason));
            if (entryBytes > env.FIXLABEL_MAX_FILE_BYTES) return callback(new EntryTooLargeError());
            callback(null, chunk);
          },
        });
        try {
          await pipeline(await zip.openReadStreamPromise(c.entry), meter, fs.createWriteStream(temp));
        } catch (err) {
          if (err instanceof ArchiveLimitError) builder.stop(err.message);
          else if (err instanceof EntryTooLargeError) builder.reject(c.displayName, fileTooLargeReason(null));
          else builder.reject(c.displayName, `damaged entry in the archive (${err instanceof Error ? err.message : String(err)})`);
          return;
        }
        const result = await ingestFile(db, {
          projectId: opts.projectId,
          filePath: temp,
          originalName: c.fileName,
          sourcePath: c.folders.join("/"),
          label: labelOf.get(c),
          actor: opts.actor,
          batch,
        });
        builder.record(c.displayName, creditEarlierAttempt(result));
      } finally {
        await removeQuietly(temp);
      }
    });
    batch.dropUnusedClasses();
    report.labeled = batch.labeled;
    report.classesCreated = batch.classesCreated;
    return report;
  } finally {
    zip.close();
  }
}
