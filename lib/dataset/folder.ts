import fsp from "node:fs/promises";
import path from "node:path";
import type { Db } from "@/lib/db/client";
import { getEnv } from "@/lib/env";
import { AppError, badRequest } from "@/lib/errors";
import { isInside } from "@/lib/storage";
import { ImportBatch, ingestFile } from "./ingest";
import { hasImageExtension, imageFolderLabels, isHiddenPath, sanitizeName } from "./names";
import { ReportBuilder, type ImportReport } from "./report";
import { runImportTasks, type OnProgress } from "./run";

type FolderFile = { readPath: string; folders: string[]; name: string; displayName: string };

function errorCode(err: unknown): string | undefined {
  return (err as NodeJS.ErrnoException | undefined)?.code;
}

/**
 * Checks a folder a client asked the server to import: it must exist, be a directory, and lie
 * inside FIXLABEL_IMPORT_ROOT once symlinks are resolved. A relative path is taken relative to the
 * import root. Returns the real paths of the folder and of the root.
 */
export async function resolveImportFolder(requested: string): Promise<{ folder: string; root: string }> {
  const configured = getEnv().importRoot;
  if (!configured) {
    throw new AppError(
      "forbidden",
      "importing folders from the server is turned off: set FIXLABEL_IMPORT_ROOT to the folder imports may read from and restart FixLabel",
    );
  }
  let root: string;
  try {
    root = await fsp.realpath(configured);
  } catch {
    throw badRequest(`FIXLABEL_IMPORT_ROOT (${configured}) does not exist on the server`);
  }
  let folder: string;
  try {
    folder = await fsp.realpath(path.resolve(root, requested));
  } catch (err) {
    if (errorCode(err) === "ENOENT") throw badRequest(`folder not found: ${requested}`, { field: "path" });
    throw badRequest(`cannot read ${requested} (${errorCode(err) ?? "error"})`, { field: "path" });
  }
  if (!isInside(root, folder)) {
    throw new AppError("forbidden", `${requested} is outside the import root ${root} (FIXLABEL_IMPORT_ROOT)`, { field: "path" });
  }
  if (!(await fsp.stat(folder)).isDirectory()) throw badRequest(`${requested} is a file, not a folder`, { field: "path" });
  return { folder, root };
}

/**
 * Lists the image files below `folder`, sorted by path so repeated imports number images alike.
 * Symbolic links are followed only when their target stays inside `boundary` (others are refused,
 * so a link cannot smuggle /etc or another user's files into an import); each real directory is
 * visited once, so link cycles end. The file is later read through its resolved path; a link
 * swapped between this walk and the read is not defended against (the folder is the server
 * owner's, the check is against mistakes and casual escapes).
 */
async function listFolder(folder: string, boundary: string, builder: ReportBuilder): Promise<FolderFile[]> {
  const files: FolderFile[] = [];
  const visited = new Set<string>([folder]);
  const pending: { dir: string; folders: string[] }[] = [{ dir: folder, folders: [] }];
  while (pending.length) {
    const { dir, folders } = pending.pop()!;
    const entries = (await fsp.readdir(dir, { withFileTypes: true })).sort((a, b) => (a.name < b.name ? -1 : 1));
    for (const entry of entries) {
      const full = path.join(dir, entry.name);
      const relative = [...folders, entry.name];
      const displayName = sanitizeName(relative.join("/"));
      if (isHiddenPath(relative)) {
        if (!entry.isDirectory()) builder.report.skipped++;
        continue;
      }
      let real = full;
      let isDir = entry.isDirectory();
      let isFile = entry.isFile();
      if (entry.isSymbolicLink()) {
        try {
          real = await fsp.realpath(full);
        } catch {
          builder.reject(displayName, "broken symbolic link");
          continue;
        }
        if (!isInside(boundary, real)) {
          builder.reject(displayName, "symbolic link to a place outside the import folder: skipped");
          continue;
        }
        const stat = await fsp.stat(real);
        isDir = stat.isDirectory();
        isFile = stat.isFile();
      }
      if (isDir) {
        if (!visited.has(real)) {
          visited.add(real);
          pending.push({ dir: real, folders: relative });
        }
      } else if (isFile && hasImageExtension(entry.name)) {
        files.push({ readPath: real, folders: folders.map(sanitizeName), name: entry.name, displayName });
      } else {
        builder.report.skipped++;
      }
    }
  }
  return files.sort((a, b) => (a.displayName < b.displayName ? -1 : 1));
}

export type ImportFolderOptions = {
  projectId: number;
  folder: string;
  actor: string;
  /**
   * true (the web app and the worker): the folder must lie inside FIXLABEL_IMPORT_ROOT and links may
   * not leave the root. false (the command-line tool, run by someone who can read the files anyway):
   * any folder, links may not leave that folder.
   */
  restrictToImportRoot: boolean;
  onProgress?: OnProgress;
};

/** Imports every image below a folder on the server, with ImageFolder labels (see names.ts). */
export async function importFolder(db: Db, opts: ImportFolderOptions): Promise<ImportReport> {
  let folder: string;
  let boundary: string;
  if (opts.restrictToImportRoot) {
    ({ folder, root: boundary } = await resolveImportFolder(opts.folder));
  } else {
    folder = await fsp.realpath(path.resolve(opts.folder)).catch(() => {
      throw badRequest(`folder not found: ${opts.folder}`);
    });
    if (!(await fsp.stat(folder)).isDirectory()) throw badRequest(`${opts.folder} is not a folder`);
    boundary = folder;
  }

  const builder = new ReportBuilder();
  const files = await listFolder(folder, boundary, builder);
  builder.report.total = files.length;
  const labels = imageFolderLabels(files.map((f) => f.folders));
  const labelOf = new Map(files.map((f, i) => [f, labels[i]]));
  const batch = new ImportBatch(db, opts.projectId, opts.actor);
  batch.prepareClasses(labels);

  await runImportTasks(files, builder, opts.onProgress, async (file) => {
    const result = await ingestFile(db, {
      projectId: opts.projectId,
      filePath: file.readPath,
      originalName: file.name,
      sourcePath: file.folders.join("/"),
      label: labelOf.get(file),
      actor: opts.actor,
      batch,
    });
    builder.record(file.displayName, result);
  });
  builder.report.labeled = batch.labeled;
  batch.dropUnusedClasses();
  builder.report.classesCreated = batch.classesCreated;
  return builder.report;
}
