import fsp from "node:fs/promises";
import type { Db } from "@/lib/db/client";
import {
  createImportAction,
  findImageBySha,
  findOrCreateClassByName,
  insertImageUnlessPresent,
  setImportedLabelIfUnlabeled,
} from "@/lib/db/queries/images";
import { countClassLabels, deleteClass } from "@/lib/db/queries/classes";
import { getEnv } from "@/lib/env";
import { AppError } from "@/lib/errors";
import { hashFile, inspectImage, storeBlob } from "@/lib/storage";
import { sanitizeName } from "./names";

export type IngestResult =
  | { status: "added"; imageId: number }
  | { status: "duplicate"; imageId: number; originalName: string }
  | { status: "rejected"; reason: string };

/**
 * The labels of one import (an upload request, an archive, a folder): the classes it creates and
 * one "import" label action for all of them, so a single undo reverts the whole import's labels.
 * The action is created on the first label, so an import without labels leaves no empty action.
 */
export class ImportBatch {
  private actionId: number | null = null;
  private readonly classIds = new Map<string, number>();
  private readonly createdClassIds = new Map<number, string>();
  readonly classesCreated: string[] = [];
  labeled = 0;

  constructor(
    private readonly db: Db,
    readonly projectId: number,
    readonly actor: string,
  ) {}

  private classId(className: string): number {
    const key = className.toLowerCase();
    let classId = this.classIds.get(key);
    if (classId === undefined) {
      const { cls, created } = findOrCreateClassByName(this.db, this.projectId, className);
      if (created) {
        this.classesCreated.push(cls.name);
        this.createdClassIds.set(cls.id, cls.name);
      }
      classId = cls.id;
      this.classIds.set(key, classId);
    }
    return classId;
  }

  /**
   * Creates the classes of an ImageFolder layout up front, sorted by name like torchvision's
   * ImageFolder, so their order (and hotkeys) does not depend on which file finished first.
   */
  prepareClasses(classNames: Iterable<string | null>): void {
    const distinct = [...new Set([...classNames].filter((n): n is string => !!n))];
    for (const name of distinct.sort((a, b) => a.localeCompare(b))) this.classId(name);
  }

  /**
   * Deletes the classes this import created that ended up holding no label (their every entry was
   * rejected, or already labeled): an import never leaves an empty class behind.
   */
  dropUnusedClasses(): void {
    for (const [classId, name] of this.createdClassIds) {
      if (countClassLabels(this.db, classId) > 0) continue;
      try {
        deleteClass(this.db, this.projectId, classId, {}, this.actor);
      } catch (err) {
        // A label arrived meanwhile (deleteClass refuses a class with labels): keep it.
        if (!(err instanceof AppError)) throw err;
        continue;
      }
      for (const [key, id] of this.classIds) if (id === classId) this.classIds.delete(key);
      this.createdClassIds.delete(classId);
      this.classesCreated.splice(this.classesCreated.indexOf(name), 1);
    }
  }

  /** Labels the image with `className` unless it already has a label. Returns whether it did. */
  labelImage(imageId: number, className: string): boolean {
    const classId = this.classId(className);
    this.actionId ??= createImportAction(this.db, this.projectId, this.actor);
    const labeled = setImportedLabelIfUnlabeled(this.db, {
      projectId: this.projectId,
      imageId,
      classId,
      actionId: this.actionId,
      actor: this.actor,
    });
    if (labeled) this.labeled++;
    return labeled;
  }
}

export type IngestInput = {
  projectId: number;
  /** The file to read. It is copied into the blob store, never moved or modified. */
  filePath: string;
  /** Shown to users; sanitized here. */
  originalName: string;
  /** Folder the file came from inside the upload, archive or server folder ("" at the top). */
  sourcePath?: string;
  /** Class name from an ImageFolder layout; created in the project when missing. */
  label?: string | null;
  actor: string;
  /** Shares one label action and class cache across the files of one import. */
  batch?: ImportBatch;
};

function formatBytes(bytes: number): string {
  if (bytes >= 1024 ** 3) return `${Number((bytes / 1024 ** 3).toFixed(1))} GB`;
  if (bytes >= 1024 ** 2) return `${Number((bytes / 1024 ** 2).toFixed(1))} MB`;
  if (bytes >= 1024) return `${Number((bytes / 1024).toFixed(1))} KB`;
  return `${bytes} bytes`;
}

export function fileTooLargeReason(bytes: number | null): string {
  const limit = formatBytes(getEnv().FIXLABEL_MAX_FILE_BYTES);
  return bytes === null
    ? `the file is larger than the limit of ${limit} (FIXLABEL_MAX_FILE_BYTES)`
    : `the file is ${formatBytes(bytes)}, over the limit of ${limit} (FIXLABEL_MAX_FILE_BYTES)`;
}

/**
 * Adds one image file to a project's pool: hash, dedupe, validate + thumbnail (one decode), store
 * the original, insert the row, and apply an ImageFolder label. Never throws for a bad file (that
 * is a "rejected" result with a reason a person can read); throws only for broken infrastructure.
 */
export async function ingestFile(db: Db, input: IngestInput): Promise<IngestResult> {
  const batch = input.batch ?? new ImportBatch(db, input.projectId, input.actor);
  const originalName = sanitizeName(input.originalName);

  const stat = await fsp.stat(input.filePath);
  if (!stat.isFile()) return { status: "rejected", reason: "not a regular file" };
  if (stat.size === 0) return { status: "rejected", reason: "the file is empty (0 bytes)" };
  if (stat.size > getEnv().FIXLABEL_MAX_FILE_BYTES) return { status: "rejected", reason: fileTooLargeReason(stat.size) };

  const sha256 = await hashFile(input.filePath);
  const known = findImageBySha(db, input.projectId, sha256);
  if (known) {
    if (input.label) batch.labelImage(known.id, input.label);
    return { status: "duplicate", imageId: known.id, originalName: known.originalName };
  }

  const inspected = await inspectImage(input.filePath, sha256);
  if (!inspected.ok) return { status: "rejected", reason: inspected.reason };

  await storeBlob(sha256, input.filePath);
  const { image, inserted } = insertImageUnlessPresent(db, {
    projectId: input.projectId,
    sha256,
    originalName,
    sourcePath: input.sourcePath ?? "",
    format: inspected.info.format,
    width: inspected.info.width,
    height: inspected.info.height,
    channels: inspected.info.channels,
    bytes: stat.size,
    thumbStatus: "ready",
  });
  if (input.label) batch.labelImage(image.id, input.label);
  return inserted
    ? { status: "added", imageId: image.id }
    : { status: "duplicate", imageId: image.id, originalName: image.originalName };
}
