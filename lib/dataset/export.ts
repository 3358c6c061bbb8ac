/**
 * Dataset export: the labeled images of a project as a zip in ImageFolder layout
 *
 *   README.txt, labels.json                 how to load it; class index -> name
 *   train/<class>/<file>, val/<class>/<file> the ORIGINAL bytes, stored (JPEG/PNG do not deflate)
 *   manifest.csv, manifest.jsonl            one row per image: path, split, provenance
 *
 * which torchvision's ImageFolder, Keras' image_dataset_from_directory and Hugging Face's
 * imagefolder read as it is. The zip is streamed: yazl reads each original from disk only when the
 * download reaches it, and the rows come from the database in pages, so neither the images nor the
 * zip are ever held in memory. What is held per image is its zip entry record (yazl needs them all
 * for the central directory at the end), its name in its folder (for uniqueness) and the split.
 */
import fs from "node:fs";
import { Readable } from "node:stream";
import { setImmediate as nextTurn } from "node:timers/promises";
import { ZipFile } from "yazl";
import { z } from "zod";
import type { Db } from "@/lib/db/client";
import {
  exportPages,
  listExportRowsPage,
  listExportSplitKeysPage,
  type ExportFilter,
  type ExportRow,
} from "@/lib/db/queries/export";
import { getProjectWithClasses } from "@/lib/db/queries/projects";
import { LABEL_SOURCES, type ClassRow } from "@/lib/db/schema";
import { badRequest } from "@/lib/errors";
import { blobPath, newStagingPath, removeQuietly } from "@/lib/storage";
import {
  attachmentDisposition,
  compareCodePoints,
  csvRow,
  imageFileParts,
  MAX_FILE_BYTES,
  MAX_FOLDER_BYTES,
  safeSegment,
  splitRank,
  UniqueNames,
  valCount,
} from "./export-format";

/** A comma-separated query value ("human,imported") as a list of trimmed, non-empty items. */
const commaList = z.string().transform((s) => s.split(",").map((v) => v.trim()).filter(Boolean));

/** The export's choices, as query parameters. */
export const exportQuery = z.object({
  sources: commaList.pipe(z.array(z.enum(LABEL_SOURCES)).min(1, "choose at least one label source")).default([...LABEL_SOURCES]),
  /** Keeps accepted proposals with at least this confidence; other sources are not affected. */
  minConfidence: z.coerce.number().min(0).max(1).optional(),
  classes: commaList.pipe(z.array(z.coerce.number<string>().int().positive()).min(1, "choose at least one class")).optional(),
  /** Share of each class that goes to val/; 0 = no val split. */
  val: z.coerce.number().min(0).max(0.9).default(0),
  /** Draws another val split; the same seed always gives the same split. */
  seed: z.coerce.number().int().min(0).max(2 ** 31).default(0),
  /** Answer { count, byClass, ... } as JSON instead of the zip. */
  dryRun: z.enum(["0", "1", "true", "false"]).optional().transform((v) => v === "1" || v === "true"),
});
export type ExportQuery = z.input<typeof exportQuery>;
export type ExportOptions = z.output<typeof exportQuery>;

export type ExportClass = {
  id: number;
  name: string;
  /** Its folder under train/ and val/: a safe path segment, unique in the zip. */
  folder: string;
  /** ImageFolder's label index: the position of the folder among the exported folders, sorted. */
  index: number;
  count: number;
  val: number;
};

export type ExportPlan = {
  projectName: string;
  filter: ExportFilter;
  options: ExportOptions;
  /** Exported classes (with at least one image), in index order. */
  classes: ExportClass[];
  valImageIds: Set<number>;
  count: number;
};

/**
 * Folders for every class of the project, in class order, so a class keeps its folder whatever the
 * filter: "a/b" and "a:b" both sanitize to "a_b", and the later class gets "a_b (2)".
 */
function classFolders(classes: ClassRow[]): Map<number, string> {
  const names = new UniqueNames(MAX_FOLDER_BYTES);
  return new Map(classes.map((c) => [c.id, names.take(safeSegment(c.name, MAX_FOLDER_BYTES, "class"))]));
}

/**
 * Decides what an export holds before a byte is written: the filter, the classes and their
 * indices, and which images go to val (per class, the lowest split ranks). Reads the rows in pages.
 */
export function planDatasetExport(db: Db, projectId: number, options: ExportOptions): ExportPlan {
  const { project, classes } = getProjectWithClasses(db, projectId);
  const known = new Set(classes.map((c) => c.id));
  const unknown = options.classes?.find((id) => !known.has(id));
  if (unknown !== undefined) throw badRequest(`class ${unknown} is not a class of this project`, { field: "classes" });
  const filter: ExportFilter = {
    sources: options.sources,
    minConfidence: options.minConfidence ?? null,
    classIds: options.classes ?? null,
  };

  const ranked = new Map<number, { imageId: number; rank: number }[]>();
  for (const page of exportPages(listExportSplitKeysPage, db, projectId, filter, 5000)) {
    for (const row of page) {
      const list = ranked.get(row.classId) ?? [];
      list.push({ imageId: row.imageId, rank: splitRank(row.sha256, options.seed) });
      ranked.set(row.classId, list);
    }
  }

  const valImageIds = new Set<number>();
  const folders = classFolders(classes);
  const exported: Omit<ExportClass, "index">[] = [];
  let count = 0;
  for (const cls of classes) {
    const list = ranked.get(cls.id);
    if (!list) continue;
    const val = valCount(list.length, options.val);
    list.sort((a, b) => a.rank - b.rank || a.imageId - b.imageId);
    for (const { imageId } of list.slice(0, val)) valImageIds.add(imageId);
    exported.push({ id: cls.id, name: cls.name, folder: folders.get(cls.id)!, count: list.length, val });
    count += list.length;
  }
  exported.sort((a, b) => compareCodePoints(a.folder, b.folder));
  return {
    projectName: project.name,
    filter,
    options,
    classes: exported.map((c, index) => ({ ...c, index })),
    valImageIds,
    count,
  };
}

/** What the export panel shows before downloading. */
export function summarizePlan(plan: ExportPlan) {
  const val = plan.classes.reduce((s, c) => s + c.val, 0);
  return {
    count: plan.count,
    train: plan.count - val,
    val,
    byClass: Object.fromEntries(plan.classes.map((c) => [c.id, c.count])) as Record<number, number>,
    classes: plan.classes,
  };
}

const MANIFEST_COLUMNS = [
  "path",
  "split",
  "class_index",
  "class_name",
  "sha256",
  "original_name",
  "source_folder",
  "label_source",
  "model_version",
  "confidence",
  "label_via",
  "labeled_by",
  "labeled_at",
  "width",
  "height",
  "format",
] as const;
type ManifestRecord = Record<(typeof MANIFEST_COLUMNS)[number], string | number | null>;

function manifestRecord(row: ExportRow, path: string, split: string, cls: ExportClass): ManifestRecord {
  const proposal = row.source === "accepted_proposal";
  return {
    path,
    split,
    class_index: cls.index,
    class_name: cls.name,
    sha256: row.sha256,
    original_name: row.originalName,
    source_folder: row.sourcePath,
    label_source: row.source,
    model_version: proposal ? row.modelVersion : null,
    confidence: proposal ? row.confidence : null,
    label_via: row.via ?? null,
    labeled_by: row.actor,
    labeled_at: new Date(row.setAt).toISOString(),
    width: row.width,
    height: row.height,
    format: row.format,
  };
}

function readmeText(plan: ExportPlan, exportedAt: Date): string {
  const { options } = plan;
  const splits = options.val > 0 ? "train/ and val/" : "train/";
  const lines = [
    `${plan.projectName}: labeled image dataset exported by FixLabel on ${exportedAt.toISOString()}`,
    "",
    `${plan.count} images in ${plan.classes.length} classes, in ImageFolder layout: ${splits}<class>/<file>.`,
    "Files are the original uploads, byte for byte; names were made safe and unique per folder, and",
    "the extension matches the real format (the original name is in the manifest).",
    "",
    "Choices:",
    `  label sources: ${options.sources.join(", ")}`,
    `  min confidence of accepted proposals: ${options.minConfidence ?? "none"}`,
    `  classes: ${options.classes ? plan.classes.map((c) => c.name).join(", ") : "all"}`,
    `  val share: ${options.val}${options.val > 0 ? ` (per class, seed ${options.seed}; a class with one image stays in train)` : ""}`,
    "",
    "Load it:",
    "  torchvision: datasets.ImageFolder('train')",
    "  Keras:       keras.utils.image_dataset_from_directory('train')",
    "  Hugging Face: load_dataset('imagefolder', data_dir='.')",
    "",
    "Class indices (labels.json) are the folders sorted by code point, which is how torchvision and",
    "Keras number them. A class that has no image in val/ is missing from that folder, which shifts",
    "ImageFolder's indices there: map val folders through labels.json (or train's class_to_idx).",
    "torchvision reads .jpg .jpeg .png .webp .tif; Keras reads .jpg .jpeg .png .gif .bmp.",
    "",
    "manifest.csv and manifest.jsonl: one row per image with",
    `  ${MANIFEST_COLUMNS.join(", ")}`,
    "label_source is human, imported (from an ImageFolder import) or accepted_proposal (a model's",
    "proposal a person accepted; model_version and confidence say which model and how sure).",
    "label_via says how a label came in where that matters for trust: audit (a person's answer while",
    "checking a random sample of proposals; label_source human), gate (accepted in bulk once that",
    "audit showed the project's target precision) or override (accepted in bulk while the audit had",
    "not shown it, on a person's explicit confirmation: treat these as unverified); empty otherwise.",
    "In the CSV, text that starts with = + - @ has a ' in front so spreadsheets do not run it as a",
    "formula; manifest.jsonl has the values as they are.",
    "",
  ];
  return lines.join("\n");
}

/** Rows per database page; a page's manifest lines are written in one go. */
const PAGE_SIZE = 1000;

/**
 * Streams the zip of a plan. Entries are added page by page, yielding to the event loop between
 * pages, while yazl already sends the first files; the manifests go to temporary files (so they
 * are not in memory either) and are added last. Stopping the stream (a cancelled download)
 * stops adding, closes open files and removes the temporary files.
 */
export function streamDatasetZip(db: Db, projectId: number, plan: ExportPlan, exportedAt = new Date()): Readable {
  const zip = new ZipFile();
  const output = zip.outputStream as Readable;
  const mtime = exportedAt;
  const openFiles = new Set<fs.ReadStream>();
  const tempFiles: string[] = [];
  let stopped = false;

  const stop = () => {
    stopped = true;
    for (const file of openFiles) file.destroy();
    for (const file of tempFiles) void removeQuietly(file);
  };
  output.once("close", stop);
  zip.on("error", (err: Error) => output.destroy(err));

  const text = (s: string) => Buffer.from(s, "utf8");
  // Stored, not deflated: tiny, and their bytes can go out at once, before the first database page.
  zip.addBuffer(text(readmeText(plan, exportedAt)), "README.txt", { mtime, compress: false });
  const labelsJson = plan.classes.map((c) => ({ index: c.index, name: c.name, folder: c.folder, count: c.count }));
  zip.addBuffer(text(`${JSON.stringify(labelsJson, null, 2)}\n`), "labels.json", { mtime, compress: false });

  const openBlob = (sha256: string) => {
    const file = fs.createReadStream(blobPath(sha256));
    openFiles.add(file);
    file.once("close", () => openFiles.delete(file));
    return file;
  };

  const addEntries = async () => {
    const [csvPath, jsonlPath] = [await newStagingPath(), await newStagingPath()];
    tempFiles.push(csvPath, jsonlPath);
    if (stopped) return stop();
    const classById = new Map(plan.classes.map((c) => [c.id, c]));
    const namesByFolder = new Map<string, UniqueNames>();
    const csv = fs.openSync(csvPath, "w");
    const jsonl = fs.openSync(jsonlPath, "w");
    try {
      fs.writeSync(csv, csvRow([...MANIFEST_COLUMNS]));
      for (const page of exportPages(listExportRowsPage, db, projectId, plan.filter, PAGE_SIZE)) {
        let csvText = "";
        let jsonlText = "";
        for (const row of page) {
          // A class made after the plan is not in labels.json; its images wait for the next export.
          const cls = classById.get(row.classId);
          if (!cls) continue;
          const split = plan.valImageIds.has(row.imageId) ? "val" : "train";
          const folder = `${split}/${cls.folder}`;
          let names = namesByFolder.get(folder);
          if (!names) namesByFolder.set(folder, (names = new UniqueNames(MAX_FILE_BYTES)));
          const { stem, ext } = imageFileParts(row.originalName, row.format);
          const path = `${folder}/${names.take(stem, ext)}`;
          const sha256 = row.sha256;
          zip.addReadStreamLazy(path, { compress: false, mtime, size: row.bytes }, (cb) => cb(null, openBlob(sha256)));
          const record = manifestRecord(row, path, split, cls);
          csvText += csvRow(MANIFEST_COLUMNS.map((k) => record[k]));
          jsonlText += `${JSON.stringify(record)}\n`;
        }
        fs.writeSync(csv, csvText);
        fs.writeSync(jsonl, jsonlText);
        await nextTurn();
        if (stopped) return;
      }
    } finally {
      fs.closeSync(csv);
      fs.closeSync(jsonl);
    }
    zip.addFile(csvPath, "manifest.csv", { mtime, compress: true });
    zip.addFile(jsonlPath, "manifest.jsonl", { mtime, compress: true });
    zip.end();
  };
  addEntries().catch((err: unknown) => output.destroy(err instanceof Error ? err : new Error(String(err))));
  return output;
}

/**
 * GET /api/projects/:id/export/dataset: the zip as a download, or with dryRun the counts the
 * export would have.
 */
export function exportDataset(db: Db, projectId: number, options: ExportOptions): Response {
  const plan = planDatasetExport(db, projectId, options);
  if (options.dryRun) return Response.json(summarizePlan(plan));
  const fileName = `${safeSegment(plan.projectName, MAX_FOLDER_BYTES, "project")}-dataset.zip`;
  const body = Readable.toWeb(streamDatasetZip(db, projectId, plan)) as ReadableStream<Uint8Array>;
  return new Response(body, {
    headers: {
      "content-type": "application/zip",
      "content-disposition": attachmentDisposition(fileName),
      "cache-control": "no-store",
      "x-content-type-options": "nosniff",
    },
  });
}
